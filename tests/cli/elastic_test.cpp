// Elastic shrink (docs/FAULT_TOLERANCE.md, "Elastic shrink"): under `train --max-restarts
// --min-workers`, a rank whose node is gone (the PLAIT_TEST_FAIL_AT_START hook, after a
// kill -9 from PLAIT_TEST_KILL) makes the run fail twice in a row with no new
// checkpoint; the supervisor restarts it on one worker less with the same global
// batch, and the final weights equal the uninterrupted run's within 1e-5. The log,
// supervisor.json and `plait status` say what changed. Hooks, not timing, decide.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "fault/monitor.h"
#include "fault/weights.h"
#include "model/gpt.h"
#include "run_plait.h"

namespace plait::test {
namespace {

std::string args(const TempDir& d, const std::string& run, int workers) {
  return tiny_train_args(d, run, "--batch 6 --steps 12 --checkpoint-every 4 --workers " +
                                 std::to_string(workers));
}

// |a - b| / |b| over every weight (the project's exactness measure).
double rel_l2(const WeightSource& a, const WeightSource& b) {
  double d = 0, n = 0;
  const ParamTable table(a.config());
  for (const ParamSpec& s : table.specs()) {
    const auto x = a.read(s.name), y = b.read(s.name);
    for (size_t i = 0; i < x.size(); ++i) {
      d += (x[i] - y[i]) * double(x[i] - y[i]);
      n += y[i] * double(y[i]);
    }
  }
  return std::sqrt(d / n);
}

class Elastic : public CorpusTest {};

TEST_F(Elastic, LostRankShrinksTheRunWithTheSameGlobalBatch) {
  Result r = run_plait(args(d, "ref", 3));
  ASSERT_EQ(r.code, 0) << r.err;
  // Rank 2 is killed at step 6 (after the step-4 checkpoint), and from then on fails
  // at every start: the restart from step 4 fails too, so the third start has 2 workers.
  r = run_plait(args(d, "el", 3) + " --max-restarts 3 --min-workers 2",
                "PLAIT_TEST_KILL=2:6 PLAIT_TEST_FAIL_AT_START=2@1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("elastic shrink from 3 to 2 workers (--min-workers 2), same global batch"),
            std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rank 2 failed at the start of step 4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("restart 2 of 3 from step-00000004"), std::string::npos) << r.err;
  EXPECT_LT(rel_l2(WeightSource::open(d / "el"), WeightSource::open(d / "ref")), 1e-5);
  const auto sup = nlohmann::json::parse(slurp(d / "el/supervisor.json"));
  std::vector<int> starts;  // the worker count of every start
  for (const auto& e : sup["events"])
    if (e["event"] == "start") starts.push_back(e["workers"]);
  // 2 workers stop at the step-8 boundary to try 3 again; rank 2 still fails, so back
  // to 2 until the end (the next try would be at step 16)
  EXPECT_EQ(starts, (std::vector<int>{3, 3, 2, 3, 2}));
  EXPECT_NE(r.err.find("growing back to 3 workers failed (rank 2 failed at the start of step 8"),
            std::string::npos) << r.err;

  r = run_plait("status --json " + (d / "el"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["workers"], 2);
  ASSERT_EQ(j["shrinks"].size(), 1u) << j.dump();
  EXPECT_EQ(j["shrinks"][0]["from"], 3);
  EXPECT_EQ(j["shrinks"][0]["to"], 2);
  EXPECT_EQ(j["last_checkpoint"], "step-00000012");
  // Rank 2's heartbeat file went with the shrink (files are published every 0.25 s, so
  // a short run may have none: only their ranks are checked).
  for (const auto& rank : j["ranks"]) EXPECT_LT(rank["rank"].get<int>(), 2) << j.dump();
  r = run_plait("status " + (d / "el"));
  EXPECT_NE(r.out.find("workers: 2 (shrunk from 3: "), std::string::npos) << r.out;
}

// Growing back (fault/supervisor.h): the node of rank 2 comes back after two failed
// starts (PLAIT_TEST_FAIL_AT_START_RUNS=2): 3 workers until the kill at step 6, 3 again
// failing from step 4 (shrink), 2 from 4 stopping at the step-8 boundary, a try on 3
// from 8 that fails (back to 2, the next try two intervals on), 2 from 8 to 16, and 3
// from 16 to the end: within 1e-5 of the uninterrupted 3-worker run, and the log,
// supervisor.json, status and /metrics' view say what changed.
TEST_F(Elastic, GrowsBackWhenTheNodeReturns) {
  auto longer = [&](const std::string& run) {  // 20 steps instead of 12
    std::string a = args(d, run, 3);
    return a.replace(a.find("--steps 12"), 10, "--steps 20");
  };
  Result r = run_plait(longer("ref"));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_plait(longer("gr") + " --max-restarts 3 --min-workers 2 --log " + (d / "log"),
                "PLAIT_TEST_KILL=2:6 PLAIT_TEST_FAIL_AT_START=2@1 PLAIT_TEST_FAIL_AT_START_RUNS=2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_LT(rel_l2(WeightSource::open(d / "gr"), WeightSource::open(d / "ref")), 1e-5);
  EXPECT_NE(r.err.find("the shrunk job (2 workers) stopped at step-00000008, a checkpoint "
                       "boundary; growing back to 3 workers, same global batch"),
            std::string::npos) << r.err;
  EXPECT_NE(r.err.find("growing back to 3 workers failed (rank 2 failed at the start of step 8 "),
            std::string::npos) << r.err;
  EXPECT_NE(r.err.find("next try in 8 steps"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("stopped at step-00000016, a checkpoint boundary; growing back to 3"),
            std::string::npos) << r.err;
  const auto sup = nlohmann::json::parse(slurp(d / "gr/supervisor.json"));
  std::vector<int> starts;
  for (const auto& e : sup["events"])
    if (e["event"] == "start") starts.push_back(e["workers"]);
  EXPECT_EQ(starts, (std::vector<int>{3, 3, 2, 3, 2, 3}));
  EXPECT_EQ(sup["workers"], 3);
  EXPECT_EQ(sup["restarts"], 2);  // the stops to grow and the failed try use none
  // the metrics log tells the story: shrink, grow, grow_failed, grow
  std::vector<std::string> story;
  std::istringstream log(slurp(d / "log"));
  for (std::string line; std::getline(log, line);) {
    const auto j = nlohmann::json::parse(line);
    const std::string ev = j.value("event", "");
    if (ev == "shrink" || ev == "grow" || ev == "grow_failed") story.push_back(ev);
  }
  EXPECT_EQ(story, (std::vector<std::string>{"shrink", "grow", "grow_failed", "grow"}));
  r = run_plait("status --json " + (d / "gr"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["workers"], 3);
  ASSERT_EQ(j["grows"].size(), 2u) << j.dump();
  EXPECT_EQ(j["grows"][1]["checkpoint"], "step-00000016");
  EXPECT_EQ(j["last_checkpoint"], "step-00000020");
  fault::MonitorView v;
  fault::add_run_dir(d / "gr", v);
  const std::string text = fault::prometheus_text(v, 0);
  EXPECT_NE(text.find("\nplait_workers 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nplait_elastic_resizes_total 3\n"), std::string::npos) << text;
}

TEST_F(Elastic, DoesNotShrinkBelowMinWorkers) {
  // Rank 1 fails at every start: 3 -> 2 workers, still failing, and 2 is the minimum.
  const Result r = run_plait(args(d, "min", 3) + " --max-restarts 4 --min-workers 2",
                             "PLAIT_TEST_FAIL_AT_START=1");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("from 3 to 2 workers"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("from 2 to 1 workers"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no restarts left (4 used)"), std::string::npos) << r.err;
}

TEST_F(Elastic, UsageErrors) {
  Result r = run_plait(args(d, "u1", 2) + " --min-workers 1");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--min-workers needs --max-restarts"), std::string::npos) << r.err;
  r = run_plait(args(d, "u2", 2) + " --max-restarts 2 --min-workers 3");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--min-workers 3 must be between 1 and --workers 2"), std::string::npos)
      << r.err;
  r = run_plait(args(d, "u3", 4) + " --tp 2 --max-restarts 2 --min-workers 3");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("must be a multiple of 2"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace plait::test
