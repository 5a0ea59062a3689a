// plait bench train with model-parallel layouts (--tp/--pp/--compare): the JSON
// carries the fields the docs and the planner's calibration read; bad layouts exit 2.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "run_plait.h"

namespace plait::test {
namespace {

const std::string kTiny =
    "bench train --layers 2 --dim 16 --heads 2 --ctx 8 --batch 4 --steps 1 --blas-threads 1 ";

nlohmann::json parse_ok(const Result& r) {
  EXPECT_EQ(r.code, 0) << "stderr: " << r.err;
  return nlohmann::json::parse(r.out);
}

TEST(BenchLayout, TensorParallelJson) {
  const auto j = parse_ok(run_plait(kTiny + "--tp 2 --json"));
  EXPECT_EQ(j.at("workers"), 2);
  EXPECT_EQ(j.at("tp"), 2);
  EXPECT_EQ(j.at("pp"), 1);
  EXPECT_GT(j.at("tokens_per_s").get<double>(), 0.0);
  EXPECT_GT(j.at("step_ms").get<double>(), 0.0);
  EXPECT_EQ(j.at("stage_bubble").size(), 1u);
  EXPECT_EQ(j.at("ideal_bubble").get<double>(), 0.0);
}

TEST(BenchLayout, PipelineJsonHasBubblePerStage) {
  const auto j = parse_ok(run_plait(kTiny + "--pp 2 --micro-batches 4 --schedule gpipe --json"));
  EXPECT_EQ(j.at("workers"), 2);
  EXPECT_EQ(j.at("micro_batches"), 4);
  EXPECT_EQ(j.at("schedule"), "gpipe");
  EXPECT_EQ(j.at("stages"), nlohmann::json({1, 1}));
  EXPECT_DOUBLE_EQ(j.at("ideal_bubble").get<double>(), 1.0 / 5.0);  // (P-1)/(M+P-1)
  for (const char* k : {"stage_bubble", "stage_bubble_of_makespan", "stage_forward_ms",
                        "stage_backward_ms", "simulated_stage_bubble",
                        "simulated_stage_bubble_of_makespan"})
    EXPECT_EQ(j.at(k).size(), 2u) << k;
  for (double b : j.at("stage_bubble").get<std::vector<double>>()) {
    EXPECT_GE(b, 0.0);
    EXPECT_LT(b, 1.0);
  }
  EXPECT_GT(j.at("stage_forward_ms")[0].get<double>(), 0.0);
}

TEST(BenchLayout, CompareReportsRatiosAgainstTheFirst) {
  const auto j = parse_ok(run_plait(kTiny + "--compare dp2,tp2,pp2 --rounds 1 --json"));
  EXPECT_EQ(j.at("baseline"), "dp2");
  ASSERT_EQ(j.at("layouts").size(), 3u);
  EXPECT_DOUBLE_EQ(j.at("layouts")[0].at("over_baseline").get<double>(), 1.0);
  EXPECT_EQ(j.at("layouts")[2].at("pp"), 2);
  EXPECT_GT(j.at("layouts")[1].at("tokens_per_s").get<double>(), 0.0);
}

void expect_exit_2(const Result& r, const std::string& needle) {
  EXPECT_EQ(r.code, 2) << "stderr: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "not one line: " << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "'" << needle << "' not in: " << r.err;
}

TEST(BenchLayout, BadLayoutsExit2) {
  expect_exit_2(run_plait(kTiny + "--tp 4 --json"), "does not divide --heads 2");
  expect_exit_2(run_plait(kTiny + "--workers 3 --tp 2"), "there are 3 workers");
  expect_exit_2(run_plait(kTiny + "--pp 3"), "only 2 blocks");
  expect_exit_2(run_plait(kTiny + "--pp 2 --micro-batches 3"), "--micro-batches 3");
  expect_exit_2(run_plait(kTiny + "--pp 2 --schedule zigzag"), "--schedule");
  expect_exit_2(run_plait(kTiny + "--compare dp2,tq2"), "tq2");
}

}  // namespace
}  // namespace plait::test
