// A crash at each phase of a checkpoint write (PLAIT_TEST_CRASH_AT, fault/crash_hook.h:
// data, manifest, rename, latest) kills the run (SIGKILL, from the background writer's
// thread); the previous checkpoint is then the one every reader picks, it verifies,
// no damaged checkpoint is taken for a committed one, and --resume ends with weights
// byte-identical to an uninterrupted run's. Also: the background writer and the
// inline one write the same bytes.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "run_plait.h"

namespace plait::test {
namespace {

namespace fs = std::filesystem;

std::string args(const TempDir& d, const std::string& run, int workers = 1) {
  return tiny_train_args(d, run, "--batch 4 --steps 8 --checkpoint-every 2 --workers " +
                                 std::to_string(workers));
}

void expect_same_final(const TempDir& d, const std::string& a, const std::string& b) {
  for (const char* f : {"model.safetensors", "optimizer.safetensors", "manifest.json"}) {
    const fs::path pa = d.path / a / "step-00000008" / f, pb = d.path / b / "step-00000008" / f;
    ASSERT_TRUE(fs::exists(pa)) << pa;
    ASSERT_TRUE(fs::exists(pb)) << pb;
    if (std::string(f) != "manifest.json") {  // the manifest holds the run's id
      EXPECT_TRUE(slurp(pa) == slurp(pb)) << f << " differs between " << a << " and " << b;
    }
  }
}

class CheckpointCrash : public CorpusTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(CheckpointCrash, PreviousCheckpointStaysAndResumeIsByteIdentical) {
  const std::string phase = GetParam();
  Result r = run_plait(args(d, "ref"));
  ASSERT_EQ(r.code, 0) << r.err;

  // Every reader picks step 2, and it verifies (sizes, checksums, headers).
  ASSERT_NO_FATAL_FAILURE(expect_crash_in_step4_write(args(d, "run"), d.path / "run", phase));
  r = run_plait("status --json " + (d / "run"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).at("last_checkpoint"), "step-00000002") << r.out;

  r = run_plait(args(d, "run") + " --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_final(d, "ref", "run");
  expect_only_committed(d.path / "run");
  for (const auto& e : fs::directory_iterator(d.path / "run"))
    EXPECT_NE(e.path().filename().string().rfind(".tmp-", 0), 0u) << e.path();  // cleaned up
}

INSTANTIATE_TEST_SUITE_P(Phases, CheckpointCrash,
                         ::testing::Values("data", "manifest", "rename", "latest"));

// Under the supervisor the crash is recovered without a person: restart from step 2.
TEST(CheckpointCrashSupervised, RestartsFromThePreviousCheckpoint) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  Result r = run_plait(args(d, "ref", 2));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_plait(args(d, "sup", 2) + " --max-restarts 1", "PLAIT_TEST_CRASH_AT=manifest:6");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("restart 1 of 1 from step-00000004"), std::string::npos) << r.err;
  for (const char* f : {"model.safetensors", "optimizer.safetensors"})
    EXPECT_TRUE(slurp(d.path / "ref" / "step-00000008" / f) ==
                slurp(d.path / "sup" / "step-00000008" / f)) << f;
}

TEST(CheckpointWriterFlag, BackgroundAndInlineWriteTheSameBytes) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  Result r = run_plait(args(d, "bg", 2));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_plait(args(d, "inline", 2) + " --checkpoint-writer inline");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* step : {"step-00000006", "step-00000008"})
    for (const char* f : {"model.safetensors", "optimizer.safetensors"})
      EXPECT_TRUE(slurp(d.path / "bg" / step / f) == slurp(d.path / "inline" / step / f))
          << step << "/" << f;
  r = run_plait(args(d, "x") + " --checkpoint-writer sideways");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--checkpoint-writer"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace plait::test
