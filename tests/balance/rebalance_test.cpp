// Measured speeds, the rebalancing rule with its hysteresis, and --slowdown's parsing.
#include "balance/rebalance.h"

#include <gtest/gtest.h>

#include <numeric>

#include "balance/slowdown.h"
#include "util/error.h"

namespace plait::balance {
namespace {

using Shares = std::vector<int64_t>;

int64_t sum(const Shares& v) { return std::accumulate(v.begin(), v.end(), int64_t{0}); }

TEST(SpeedMeter, FirstSampleSetsThenSmooths) {
  SpeedMeter m(2, 0.5);
  EXPECT_FALSE(m.known());
  m.observe(0, 0.8, 8);  // 0.1 s per sequence
  m.observe(1, 0.0, 0);  // no sequences: no sample
  EXPECT_DOUBLE_EQ(m.costs()[0], 0.1);
  EXPECT_EQ(m.costs()[1], 0.0);
  EXPECT_FALSE(m.known());
  m.observe(1, 0.6, 2);  // 0.3
  m.observe(0, 1.6, 8);  // 0.2: halfway from 0.1
  EXPECT_DOUBLE_EQ(m.costs()[0], 0.15);
  EXPECT_DOUBLE_EQ(m.costs()[1], 0.3);
  EXPECT_TRUE(m.known());
  EXPECT_NEAR(m.speeds()[1], 1 / 0.3, 1e-12);
  EXPECT_THROW(SpeedMeter(2, 0.0), UsageError);
}

// Table: costs (s per sequence) -> the split minimising the slowest rank's time.
TEST(FastestSplit, MinimisesTheSlowestRank) {
  struct Case {
    int64_t total;
    std::vector<double> costs;
    Shares want;
  };
  const Case cases[] = {
      {16, {1, 1}, {8, 8}},
      {16, {1, 2}, {11, 5}},         // 11 x 1 = 11 vs 5 x 2 = 10
      {16, {1, 1.67, 3.33}, {9, 5, 2}},
      {12, {1, 1, 1, 1}, {3, 3, 3, 3}},
      {7, {1, 1, 1}, {3, 2, 2}},     // ties go to the lower rank
      {16, {1, 100}, {15, 1}},       // every rank keeps one sequence (to be measured)
      {2, {1, 1, 1}, {1, 1, 0}},     // fewer sequences than ranks: no minimum
      {0, {1, 2}, {0, 0}},
  };
  for (const Case& c : cases) {
    const Shares got = fastest_split(c.total, c.costs);
    EXPECT_EQ(got, c.want) << "total " << c.total;
    EXPECT_EQ(sum(got), c.total);
  }
  EXPECT_THROW(fastest_split(4, std::vector<double>{1, 0}), UsageError);
}

TEST(FastestSplit, NoOtherSplitIsFaster) {
  const std::vector<double> costs = {0.7, 1.3, 2.9};
  const Shares best = fastest_split(20, costs, 0);
  const double t = predicted_step_s(best, costs);
  for (int64_t a = 0; a <= 20; ++a)
    for (int64_t b = 0; a + b <= 20; ++b) {
      const Shares s = {a, b, 20 - a - b};
      EXPECT_GE(predicted_step_s(s, costs), t - 1e-12);
    }
}

TEST(Propose, HysteresisKeepsNoiseFromMovingTheSplit) {
  const Shares equal = {8, 8};
  // 3% apart: moving one sequence would predict 9 x 1 = 9 vs 8 x 1.03 = 8.24: slower.
  EXPECT_FALSE(propose(equal, std::vector<double>{1, 1.03}, 0.05));
  // 2x apart: 11/5, 10 vs 16 predicted, a 37.5% gain.
  const auto p = propose(equal, std::vector<double>{1, 2}, 0.05);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->shares, (Shares{11, 5}));
  EXPECT_DOUBLE_EQ(p->now_s, 16);
  EXPECT_DOUBLE_EQ(p->then_s, 11);
  EXPECT_NEAR(p->gain(), 5.0 / 16, 1e-12);
  // The same gain under a higher threshold is no proposal; unknown costs neither.
  EXPECT_FALSE(propose(equal, std::vector<double>{1, 2}, 0.4));
  EXPECT_FALSE(propose(equal, std::vector<double>{1, 0}, 0.0));
  // Already the best split: nothing to do.
  EXPECT_FALSE(propose(Shares{11, 5}, std::vector<double>{1, 2}, 0.0));
}

// Pipelines move shares in whole micro-batches: a table of (current, costs, granule)
// and the split proposed (threshold 0), each share a multiple of the granule.
TEST(Propose, WholeGranules) {
  struct Row {
    Shares current;
    std::vector<double> costs;
    int64_t granule;
    Shares want;
  };
  const std::vector<Row> rows = {
      {{8, 8}, {1, 2}, 2, {12, 4}},   // 12 vs 8 (10/6 ties at 12; ties go to rank 0)
      {{8, 8}, {1, 3}, 4, {12, 4}},   // 12 vs 12, from 8 vs 24
      {{4, 4, 4, 4}, {1, 1, 1, 4}, 4, {4, 4, 4, 4}},  // every rank keeps one granule
      {{6, 6}, {1, 1.5}, 3, {6, 6}},  // 9/3 predicts 9, as now: no gain, no move
      {{2, 6}, {1, 1}, 2, {4, 4}},
  };
  for (const Row& r : rows) {
    const auto p = propose(r.current, r.costs, 0.0, r.granule);
    const Shares got = p ? p->shares : r.current;
    EXPECT_EQ(got, r.want) << "granule " << r.granule;
    for (int64_t s : got) EXPECT_EQ(s % r.granule, 0);
  }
}

TEST(Balancer, ReSplitsEveryKStepsOnlyWhenAdjusting) {
  BalanceConfig cfg;
  cfg.every = 2;
  cfg.smoothing = 1.0;  // the newest sample alone
  Balancer b({8, 8}, cfg);
  const RankSample slow1[] = {{0.8, 0.8, 8}, {1.6, 0.0, 8}};
  EXPECT_FALSE(b.observe(1, slow1));  // not a multiple of K
  EXPECT_EQ(b.shares(), (Shares{8, 8}));
  const auto p = b.observe(2, slow1);
  ASSERT_TRUE(p);
  EXPECT_EQ(b.shares(), (Shares{11, 5}));
  cfg.adjust = false;
  Balancer fixed({8, 8}, cfg);
  EXPECT_FALSE(fixed.observe(2, slow1));
  EXPECT_EQ(fixed.shares(), (Shares{8, 8}));
  EXPECT_NEAR(fixed.meter().speeds()[1], 5.0, 1e-12);  // still measured
  // A checkpoint's state is taken only when it fits.
  fixed.restore(Shares{11, 5}, std::vector<double>{0.1, 0.2});
  EXPECT_EQ(fixed.shares(), (Shares{11, 5}));
  fixed.restore(Shares{4, 4, 8}, std::vector<double>{1, 1, 1});
  EXPECT_EQ(fixed.shares(), (Shares{11, 5}));
  cfg.every = 0;
  EXPECT_THROW(Balancer({1}, cfg), UsageError);
}

TEST(Slowdown, ParsesAndSchedules) {
  const Slowdown a = parse_slowdown("1:2");
  EXPECT_EQ(a.rank, 1);
  EXPECT_DOUBLE_EQ(a.factor, 2);
  EXPECT_EQ(a.from, 0);
  const Slowdown b = parse_slowdown("1:1@50");
  const Slowdown c = parse_slowdown("0:3.33@10");
  EXPECT_EQ(c.from, 10);
  const std::vector<Slowdown> sched = {a, b, c};
  EXPECT_DOUBLE_EQ(slowdown_at(sched, 1, 0), 2);
  EXPECT_DOUBLE_EQ(slowdown_at(sched, 1, 49), 2);
  EXPECT_DOUBLE_EQ(slowdown_at(sched, 1, 50), 1);
  EXPECT_DOUBLE_EQ(slowdown_at(sched, 0, 9), 1);
  EXPECT_DOUBLE_EQ(slowdown_at(sched, 0, 10), 3.33);
  EXPECT_DOUBLE_EQ(slowdown_at(sched, 2, 10), 1);
  for (const char* bad : {"", "1", "1:", ":2", "x:2", "-1:2", "1:0.5", "1:nan", "1:inf",
                          "1:2@", "1:2@-3", "1:2@x", "1:2x", "1:5000", "1.5:2"}) {
    try {
      parse_slowdown(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const UsageError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("--slowdown"), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
}

// The throttle's sleep: a pass lasts factor x the time it ran on a core; the time it
// waited for a core (another rank's compute on a shared machine) is not stretched.
TEST(Slowdown, SleepStretchesOnlyTheTimeThePassRan) {
  struct Row {
    double factor, wall, queued, sleep;
  };
  for (const Row& r : std::vector<Row>{
           {1, 0.010, 0, 0},             // no slowdown
           {0.5, 0.010, 0, 0},           // never a speed-up
           {2, 0.010, 0, 0.010},         // alone on its core: (factor - 1) x wall
           {3.33, 0.003, 0, 0.00699},    //
           {2, 0.010, 0.004, 0.002},     // ran 6 ms: lasts 12 ms
           {3, 0.010, 0.006, 0.002},     // ran 4 ms: lasts 12 ms
           {2, 0.010, 0.005, 0},         // ran 5 ms, lasted 10: nothing to add
           {2, 0.010, 0.009, 0},         // waited longer than factor x ran: no sleep
           {2, 0.010, 0.020, 0},         // (a clock glitch: queued > wall)
           {2, 0.010, -1, 0.010},        // (a negative wait counts as none)
       }) {
    EXPECT_NEAR(throttle_sleep_s(r.factor, r.wall, r.queued), r.sleep, 1e-12)
        << r.factor << " " << r.wall << " " << r.queued;
  }
}

}  // namespace
}  // namespace plait::balance
