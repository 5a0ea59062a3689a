// Failure detection as a user sees it: --timeout and --heartbeat-timeout are checked,
// and a rank that stops making progress (the PLAIT_TEST_STALL hook) is reported by the
// watchdog, naming the rank, its host, step and activity and who waits for it, and
// the run ends with exit code 1 instead of hanging. No timing thresholds: the hook
// stalls for good, the test only waits for the exit.
#include <gtest/gtest.h>

#include <filesystem>

#include "run_plait.h"

namespace plait::test {
namespace {

std::string args(const TempDir& d) {
  return tiny_train_args(d, "run", "--batch 4 --steps 8");
}

TEST(FaultFlags, TimeoutsAreRangeChecked) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  for (const char* bad : {"--timeout 0", "--timeout -3", "--timeout 1e9",
                          "--heartbeat-timeout -1"}) {
    const Result r = run_plait(args(d) + " " + bad);
    EXPECT_EQ(r.code, 2) << bad << ": " << r.err;
    EXPECT_NE(r.err.find(std::string(bad).substr(0, std::string(bad).find(' '))),
              std::string::npos) << r.err;
  }
}

// A malformed rank-and-step hook (fault/test_hooks.h) is refused at the start of the
// run, not silently ignored.
TEST(FaultFlags, MalformedTestHookIsAUsageError) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const Result r = run_plait(args(d) + " --workers 2", "PLAIT_TEST_KILL=1:x");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("PLAIT_TEST_KILL='1:x': bad entry '1:x'"), std::string::npos) << r.err;
}

TEST(Heartbeat, StalledRankIsReportedAndTheRunEnds) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const Result r = run_plait(args(d) + " --workers 3 --heartbeat-timeout 2",
                             "PLAIT_TEST_STALL=1:3");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("heartbeat: rank 1 on host"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("in step 3: not communicating"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rank 0 waiting in"), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::exists(d.path / "run" / "heartbeat" / "stalled.txt"));
}

TEST(Heartbeat, HealthyRunWritesBeatsAndFinishes) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const Result r = run_plait(args(d) + " --workers 2 --heartbeat-timeout 600");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(d.path / "run" / "heartbeat" / "stalled.txt"));
}

}  // namespace
}  // namespace plait::test
