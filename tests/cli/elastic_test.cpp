// Elastic shrink (docs/FAULT_TOLERANCE.md, "Elastic shrink"): under `train --max-restarts
// --min-workers`, a rank whose node is gone (the PLAIT_TEST_FAIL_AT_START hook, after a
// kill -9 from PLAIT_TEST_KILL) makes the run fail twice in a row with no new
// checkpoint; the supervisor restarts it on one worker less with the same global
// batch, and the final weights equal the uninterrupted run's within 1e-5. The log,
// supervisor.json and `plait status` say what changed. Hooks, not timing, decide.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include <nlohmann/json.hpp>

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
  EXPECT_EQ(starts, (std::vector<int>{3, 3, 2}));

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
