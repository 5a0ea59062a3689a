// Automatic recovery (plait train --max-restarts, fault/supervisor.h): the training runs
// as a child of the supervisor; a kill -9 of that child (the PLAIT_TEST_KILL hook) or a
// hang the watchdog ends (PLAIT_TEST_STALL) is followed by a restart from the newest
// checkpoint, and the final weights equal an uninterrupted run's byte for byte.
// `plait status` reads the restarts back. Hooks, not timing, decide when faults happen.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "run_plait.h"

namespace plait::test {
namespace {

namespace fs = std::filesystem;

std::string args(const TempDir& d, const std::string& run) {
  return tiny_train_args(d, run, "--batch 4 --steps 16 --checkpoint-every 4 --workers 2");
}

void expect_same_final(const TempDir& d, const std::string& a, const std::string& b) {
  for (const char* f : {"model-rank00000.safetensors", "optimizer-rank00000.safetensors",
                        "model.safetensors", "optimizer.safetensors"}) {
    const fs::path pa = d.path / a / "step-00000016" / f, pb = d.path / b / "step-00000016" / f;
    if (!fs::exists(pa)) continue;
    ASSERT_TRUE(fs::exists(pb)) << pb;
    EXPECT_TRUE(slurp(pa) == slurp(pb)) << f << " differs between " << a << " and " << b;
  }
  ASSERT_TRUE(fs::exists(d.path / a / "step-00000016" / "manifest.json"));
}

class Supervisor : public CorpusTest {};

TEST_F(Supervisor, KilledChildIsRestartedAndWeightsAreByteIdentical) {
  Result r = run_plait(args(d, "ref"));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_plait(args(d, "sup") + " --max-restarts 3", "PLAIT_TEST_KILL=1:6,0:13");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("signal 9"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("restart 1 of 3 from step-00000004"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("restart 2 of 3 from step-00000012"), std::string::npos) << r.err;
  expect_same_final(d, "ref", "sup");
  r = run_plait("status --json " + (d / "sup"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["restarts"], 2);
  EXPECT_EQ(j["last_checkpoint"], "step-00000016");
  EXPECT_EQ(j["last_step"], 16);
}

// The metrics log tells the whole story (the supervisor appends its failure and
// restart events between two children; every step line has each rank's timing, except
// that an invocation's first line may lack a rank that has not finished its first step
// yet: nothing after the step's exchange waits for the heartbeats), and `plait status`
// of the finished run shows no rank alive.
TEST_F(Supervisor, LogHasRestartEventsAndStatusOfTheEndedRun) {
  Result r = run_plait(args(d, "log") + " --max-restarts 2 --log " + (d / "log.jsonl"),
                       "PLAIT_TEST_KILL=1:6");
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream log(slurp(d / "log.jsonl"));
  int failures = 0, restarts = 0, timed = 0;
  bool first = false;  // the next step line is its invocation's first
  for (std::string line; std::getline(log, line);) {
    const auto j = nlohmann::json::parse(line);
    const std::string ev = j.value("event", "");
    if (ev == "start") first = true;
    if (ev == "failure") {
      ++failures;
      EXPECT_EQ(j["how"], "signal 9 (Killed)") << line;
      EXPECT_EQ(j["checkpoint"], "step-00000004") << line;
    }
    if (ev == "restart") {
      ++restarts;
      EXPECT_EQ(j["from"], "step-00000004") << line;
      EXPECT_EQ(failures, 1) << "the restart follows the failure";
    }
    if (j.contains("rank_timing")) {
      ++timed;
      if (first) EXPECT_GE(j["rank_timing"].size(), 1u) << line;
      else EXPECT_EQ(j["rank_timing"].size(), 2u) << line;
      first = false;
    }
  }
  EXPECT_EQ(failures, 1);
  EXPECT_EQ(restarts, 1);
  EXPECT_GE(timed, 16);  // steps 5 and 6 are logged twice (before and after the kill)
  r = run_plait("status --json " + (d / "log"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["state"], "finished");
  EXPECT_EQ(j["alive_ranks"], 0);
  EXPECT_EQ(j["restarts"], 1);
  EXPECT_EQ(j["last_step"], 16);
  EXPECT_TRUE(j["loss"].is_number()) << r.out;
  ASSERT_EQ(j["ranks"].size(), 2u);
  for (const auto& rank : j["ranks"]) {
    EXPECT_FALSE(rank["alive"].get<bool>()) << rank;
    EXPECT_EQ(rank["phase"], "done") << rank;
  }
  r = run_plait("status " + (d / "log"));
  EXPECT_NE(r.out.find("state: finished"), std::string::npos) << r.out;
}

TEST_F(Supervisor, HangEndedByTheWatchdogIsRestarted) {
  Result r = run_plait(args(d, "ref"));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_plait(args(d, "hang") + " --max-restarts 2 --heartbeat-timeout 2",
                "PLAIT_TEST_STALL=1:9");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("heartbeat: rank 1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("exit code 1; restart 1 of 2 from step-00000008"), std::string::npos)
      << r.err;
  expect_same_final(d, "ref", "hang");
}

// The whole training process stopped (PLAIT_TEST_SIGSTOP: rank 1 raises SIGSTOP, every
// thread stops, the watchdog inside too): the supervisor sees the heartbeat files stop
// (or, stopped before the first publish, the stop itself), reports the child hung with
// each rank's last step, kills and restarts it. `timeout` bounds the test if detection
// failed; nothing asserts how long it took.
TEST_F(Supervisor, ChildStoppedWholeIsFoundFromItsHeartbeatsAndRestarted) {
  Result r = run_plait(args(d, "ref"));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_plait(args(d, "stop") + " --max-restarts 2 --heartbeat-timeout 2",
                "PLAIT_TEST_SIGSTOP=1:9 timeout -k 10 300");
  ASSERT_EQ(r.code, 0) << r.err;
  // the heartbeat files went still; or, when the child stopped before its first publish,
  // waitpid saw it stopped
  const bool files = r.err.find("is hung: none of its 2 ranks' heartbeats changed for") != std::string::npos;
  const bool stopped = r.err.find("is hung: stopped by signal 19") != std::string::npos;
  EXPECT_TRUE(files || stopped) << r.err;
  if (files) {
    EXPECT_NE(r.err.find("their last heartbeats: rank 0 in "), std::string::npos) << r.err;
  }
  EXPECT_NE(r.err.find("ended with a hang (heartbeats stopped; killed with SIGKILL); restart 1 "
                       "of 2 from step-00000008"), std::string::npos) << r.err;
  expect_same_final(d, "ref", "stop");
  const auto j = nlohmann::json::parse(slurp(d / "stop/supervisor.json"));
  int hung = 0;
  for (const auto& e : j["events"]) hung += e.value("event", "") == "hung";
  EXPECT_EQ(hung, 1) << j.dump();
}

TEST_F(Supervisor, GivesUpAfterItsRestarts) {
  const Result r = run_plait(args(d, "out") + " --max-restarts 1", "PLAIT_TEST_KILL=0:2,0:3");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("no restarts left (1 used)"), std::string::npos) << r.err;
}

TEST_F(Supervisor, BadUsageIsNotRetried) {
  Result r = run_plait(args(d, "bad") + " --max-restarts 2 --lr -1");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(r.err.find("restart"), std::string::npos) << r.err;
  r = run_plait("train --steps 2 --max-restarts 2 --no-progress");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--checkpoint-dir"), std::string::npos) << r.err;
  r = run_plait("status " + (d / "missing"));
  EXPECT_EQ(r.code, 2) << r.err;
}

}  // namespace
}  // namespace plait::test
