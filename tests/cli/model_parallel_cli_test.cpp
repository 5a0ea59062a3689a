// A model-parallel run from the command line: its sharded checkpoint is read by eval,
// sample and inspect like any other, and its timeline shows every stage's forward and
// backward micro-batches (the pipeline bubble is the gap between them).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "run_plait.h"

namespace plait::test {
namespace {

TEST(ModelParallelCli, ShardedCheckpointServesEvalSampleInspect) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const Result t = run_plait("train --data " + (d / "c.txt") +
                             " --layers 4 --dim 32 --heads 4 --ctx 16 --batch 8 --steps 3"
                             " --tp 2 --pp 2 --micro-batches 4 --schedule gpipe --no-progress"
                             " --checkpoint-dir " + (d / "run") + " --trace " + (d / "t.json") +
                             " --log " + (d / "m.jsonl"));
  ASSERT_EQ(t.code, 0) << t.err;
  // The metrics log reports the layout and each rank's memory: GPipe keeps all 4
  // micro-batches alive on both stages.
  bool layout_seen = false;
  std::istringstream log(slurp(d / "m.jsonl"));
  for (std::string line; std::getline(log, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.value("event", "") != "layout") continue;
    layout_seen = true;
    EXPECT_NE(j.at("layout").get<std::string>().find("dp1 x tp2 x pp2"), std::string::npos);
    ASSERT_EQ(j.at("ranks").size(), 4u);
    for (const auto& r : j.at("ranks")) {
      EXPECT_EQ(r.at("peak_micro_batches").get<int>(), 4);
      EXPECT_LT(r.at("param_floats").get<double>(), r.at("model_floats").get<double>());
    }
  }
  EXPECT_TRUE(layout_seen);

  const Result e = run_plait("eval --checkpoint " + (d / "run") + " --data " + (d / "c.txt") +
                             " --json");
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_GT(nlohmann::json::parse(e.out).at("loss").get<double>(), 0.0);

  const Result s = run_plait("sample --checkpoint " + (d / "run") + " --prompt The --tokens 20");
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_GE(s.out.size(), 20u);

  const Result i = run_plait("inspect " + (d / "run") + " --json");
  ASSERT_EQ(i.code, 0) << i.err;
  const auto j = nlohmann::json::parse(i.out);
  EXPECT_EQ(j.at("world").get<int>(), 4);

  // Each of the 4 ranks (pid) shows forward and backward of micro-batches 0..3.
  const auto trace = nlohmann::json::parse(slurp(d / "t.json"));
  std::map<int, std::set<std::string>> ops;
  for (const auto& ev : trace.at("traceEvents"))
    if (ev.value("ph", "") == "X") ops[ev.at("pid").get<int>()].insert(ev.at("name").get<std::string>());
  ASSERT_EQ(ops.size(), 4u);
  for (auto& [pid, names] : ops)
    for (int m = 0; m < 4; ++m) {
      EXPECT_TRUE(names.count("forward " + std::to_string(m))) << "rank " << pid;
      EXPECT_TRUE(names.count("backward " + std::to_string(m))) << "rank " << pid;
    }
}

}  // namespace
}  // namespace plait::test
