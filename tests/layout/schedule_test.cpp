// Pipeline schedules: exact op lists for small cases, each micro-batch's F before its
// B exactly once, the activations held at the peak, the dependency simulation
// (deadlock-free, and both schedules' bubble is exactly (P-1)/(M+P-1) for any f, b),
// stage balancing and parse errors.
#include "layout/schedule.h"
#include "layout/stages.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "util/error.h"

namespace plait {
namespace {

constexpr PipeSchedule kGPipe = PipeSchedule::gpipe;
constexpr PipeSchedule k1F1B = PipeSchedule::one_f_one_b;

// "F0 F1 B0" -> ops
std::vector<PipeOp> ops(const std::string& text) {
  std::istringstream in(text);
  std::vector<PipeOp> out;
  for (std::string w; in >> w;) out.push_back({std::stoi(w.substr(1)), w[0] == 'F'});
  return out;
}

std::string text(const std::vector<PipeOp>& v) {
  std::string s;
  for (const PipeOp& op : v) {
    if (!s.empty()) s += ' ';
    s += op.forward ? 'F' : 'B';
    s += std::to_string(op.micro);
  }
  return s;
}

// fn throws a UsageError whose message is one line containing every fragment.
template <class Fn>
void expect_usage_error(Fn fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "no UsageError thrown";
  } catch (const UsageError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const std::string& f : fragments)
      EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
  }
}

void expect_ops(PipeSchedule s, int stage, int P, int M, const std::string& want) {
  EXPECT_EQ(text(pipeline_schedule(s, stage, P, M)), text(ops(want)))
      << to_string(s) << " stage " << stage << " P=" << P << " M=" << M;
}

TEST(PipelineSchedule, SmallCasesExactly) {
  expect_ops(kGPipe, 0, 2, 2, "F0 F1 B0 B1");
  expect_ops(kGPipe, 1, 2, 2, "F0 F1 B0 B1");
  expect_ops(k1F1B, 0, 2, 2, "F0 F1 B0 B1");
  expect_ops(k1F1B, 1, 2, 2, "F0 B0 F1 B1");
  expect_ops(k1F1B, 0, 1, 3, "F0 B0 F1 B1 F2 B2");
  expect_ops(k1F1B, 0, 6, 3, "F0 F1 F2 B0 B1 B2");  // warm-up capped at M
}

TEST(PipelineSchedule, FourStagesEightMicroBatches) {
  const std::string gpipe = "F0 F1 F2 F3 F4 F5 F6 F7 B0 B1 B2 B3 B4 B5 B6 B7";
  expect_ops(kGPipe, 0, 4, 8, gpipe);
  expect_ops(kGPipe, 3, 4, 8, gpipe);
  expect_ops(k1F1B, 0, 4, 8, "F0 F1 F2 F3 B0 F4 B1 F5 B2 F6 B3 F7 B4 B5 B6 B7");
  expect_ops(k1F1B, 1, 4, 8, "F0 F1 F2 B0 F3 B1 F4 B2 F5 B3 F6 B4 F7 B5 B6 B7");
  expect_ops(k1F1B, 3, 4, 8, "F0 B0 F1 B1 F2 B2 F3 B3 F4 B4 F5 B5 F6 B6 F7 B7");
}

TEST(PipelineSchedule, EachForwardOnceThenItsBackwardOnce) {
  for (PipeSchedule s : {kGPipe, k1F1B})
    for (int P = 1; P <= 6; ++P)
      for (int M = 1; M <= 10; ++M)
        for (int st = 0; st < P; ++st) {
          const std::vector<PipeOp> v = pipeline_schedule(s, st, P, M);
          ASSERT_EQ(static_cast<int>(v.size()), 2 * M);
          std::vector<int> f_at(M, -1), b_at(M, -1);
          for (int i = 0; i < 2 * M; ++i) {
            int& at = (v[i].forward ? f_at : b_at)[v[i].micro];
            ASSERT_EQ(at, -1) << "repeated op";
            at = i;
          }
          for (int m = 0; m < M; ++m) ASSERT_LT(f_at[m], b_at[m]);
          // Forwards and backwards each run in micro-batch order.
          for (int m = 1; m < M; ++m) ASSERT_LT(f_at[m - 1], f_at[m]);
          for (int m = 1; m < M; ++m) ASSERT_LT(b_at[m - 1], b_at[m]);
        }
}

TEST(PipelineSchedule, PeakInFlight) {
  for (int P = 1; P <= 6; ++P)
    for (int M = 1; M <= 10; ++M)
      for (int st = 0; st < P; ++st) {
        EXPECT_EQ(peak_in_flight(pipeline_schedule(kGPipe, st, P, M)), M);
        EXPECT_EQ(peak_in_flight(pipeline_schedule(k1F1B, st, P, M)), std::min(P - st, M));
      }
  EXPECT_EQ(peak_in_flight({}), 0);
}

// Both schedules take (M + P - 1)(f + b) and idle (P - 1)(f + b) on every stage, for
// any f and b: bubble = (P - 1) / (M + P - 1) exactly (integer costs keep it exact).
TEST(PipelineSchedule, SimulationNeverDeadlocksAndMatchesTheClosedForm) {
  const std::vector<std::pair<double, double>> costs = {{1, 1}, {1, 2}, {2, 1}, {1, 3}, {3, 5}};
  for (PipeSchedule s : {kGPipe, k1F1B})
    for (auto [f, b] : costs)
      for (int P = 1; P <= 6; ++P)
        for (int M = 1; M <= 10; ++M) {
          SCOPED_TRACE(std::string(to_string(s)) + " P=" + std::to_string(P) +
                       " M=" + std::to_string(M) + " f=" + std::to_string(f) +
                       " b=" + std::to_string(b));
          const PipeSimulation sim = simulate_pipeline(s, P, M, f, b);
          ASSERT_EQ(sim.makespan, (M + P - 1) * (f + b));
          ASSERT_EQ(static_cast<int>(sim.idle.size()), P);
          for (double idle : sim.idle) ASSERT_EQ(idle, (P - 1) * (f + b));
          ASSERT_NEAR(sim.bubble, ideal_bubble(P, M), 1e-12);
        }
  EXPECT_DOUBLE_EQ(ideal_bubble(4, 8), 3.0 / 11.0);
  EXPECT_EQ(ideal_bubble(1, 5), 0.0);
}

// Per-stage costs: equal ones give the uniform answer; a heavier last stage (P = 2,
// M = 1, GPipe: F0 [0,1] on s0, F0 [1,2] B0 [2,5] on s1, B0 [5,6] on s0) stretches
// stage 0's idle time; `end` is each stage's last finish.
TEST(PipelineSchedule, SimulationWithPerStageCosts) {
  const PipeSimulation u = simulate_pipeline(k1F1B, 4, 8, 1.0, 2.0);
  const PipeSimulation v = simulate_pipeline(k1F1B, 8, {1, 1, 1, 1}, {2, 2, 2, 2});
  EXPECT_EQ(v.makespan, u.makespan);
  EXPECT_EQ(v.idle, u.idle);
  const PipeSimulation h = simulate_pipeline(kGPipe, 1, {1, 1}, {1, 3});
  EXPECT_EQ(h.makespan, 6);
  EXPECT_EQ(h.end, (std::vector<double>{6, 5}));
  EXPECT_EQ(h.idle, (std::vector<double>{4, 2}));
  EXPECT_DOUBLE_EQ(h.bubble, (4.0 / 6 + 2.0 / 6) / 2);
  EXPECT_THROW(simulate_pipeline(kGPipe, 1, {1, 1}, {1}), UsageError);
}

TEST(PipelineSchedule, BalanceStages) {
  EXPECT_EQ(balance_stages(12, 4), (std::vector<int>{3, 3, 3, 3}));
  EXPECT_EQ(balance_stages(12, 5), (std::vector<int>{3, 3, 2, 2, 2}));
  EXPECT_EQ(balance_stages(7, 4), (std::vector<int>{2, 2, 2, 1}));
  EXPECT_EQ(balance_stages(5, 2), (std::vector<int>{3, 2}));
  EXPECT_EQ(balance_stages(4, 4), (std::vector<int>{1, 1, 1, 1}));
  EXPECT_EQ(balance_stages(3, 1), (std::vector<int>{3}));
  for (int L = 1; L <= 20; ++L)
    for (int P = 1; P <= L; ++P) {
      const std::vector<int> v = balance_stages(L, P);
      ASSERT_EQ(std::accumulate(v.begin(), v.end(), 0), L);
      ASSERT_GE(*std::min_element(v.begin(), v.end()), 1);
      ASSERT_LE(*std::max_element(v.begin(), v.end()) - *std::min_element(v.begin(), v.end()), 1);
      ASSERT_EQ(v.back(), L / P);                         // the last stage gets no extra
      ASSERT_TRUE(std::is_sorted(v.rbegin(), v.rend()));  // extras to the earliest
    }
}

TEST(PipelineSchedule, ParseAndErrors) {
  EXPECT_EQ(parse_schedule("gpipe"), kGPipe);
  EXPECT_EQ(parse_schedule("1f1b"), k1F1B);
  EXPECT_STREQ(to_string(kGPipe), "gpipe");
  EXPECT_STREQ(to_string(k1F1B), "1f1b");
  expect_usage_error([] { parse_schedule("1F1B-interleaved"); },
                           {"1F1B-interleaved", "gpipe", "1f1b"});
  expect_usage_error([] { balance_stages(3, 4); }, {"3 layers", "4"});
  expect_usage_error([] { balance_stages(3, 0); }, {"3 layers"});
  expect_usage_error([] { pipeline_schedule(kGPipe, 2, 2, 4); }, {"stage 2"});
  expect_usage_error([] { pipeline_schedule(k1F1B, 0, 2, 0); }, {"micro-batches"});
}

}  // namespace
}  // namespace plait
