// The stage partition by cost within each stage's memory: the best feasible split for
// given costs, memory per block and a limit (table-driven), checked against every
// partition; a clear error when none fits.
#include "layout/stage_partition.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <string>

#include "util/error.h"

namespace plait {
namespace {

// Every partition of `layers` blocks over P stages, each >= 1.
void each_partition(int layers, int P, const std::function<void(const std::vector<int>&)>& f) {
  std::vector<int> sz(P, 1);
  std::function<void(int, int)> rec = [&](int s, int left) {
    if (s == P - 1) {
      sz[s] = left;
      if (left >= 1) f(sz);
      return;
    }
    for (int k = 1; k <= left - (P - 1 - s); ++k) sz[s] = k, rec(s + 1, left - k);
  };
  rec(0, layers);
}

StageCosts costs(std::vector<double> extra, std::vector<double> scale, std::vector<double> fixed,
                 std::vector<double> per_block, double limit) {
  StageCosts c;
  c.extra = std::move(extra), c.scale = std::move(scale);
  c.fixed_bytes = std::move(fixed), c.block_bytes = std::move(per_block);
  c.limit_bytes = limit;
  return c;
}

TEST(StagePartition, BestFeasibleSplitTable) {
  struct Case {
    const char* what;
    int layers;
    StageCosts c;
    std::vector<int> want, fastest;
  };
  const Case cases[] = {
      {"no limit: the head of 1.7 blocks", 6, costs({0, 1.7}, {1, 1}, {}, {}, 0), {4, 2}, {4, 2}},
      {"a limit everything fits", 6, costs({0, 1.7}, {1, 1}, {10, 10}, {1, 1}, 100), {4, 2}, {4, 2}},
      // the last stage 3x slower wants 5,1 (5 vs 4.5), but 5 blocks of 10 bytes on top of
      // the first stage's 30 (the embedding) exceed 70: 4,2 (4 vs 7.5) is the best that fits
      {"the fastest split does not fit", 6, costs({0, 0.5}, {1, 3}, {30, 5}, {10, 10}, 70),
       {4, 2}, {5, 1}},
      // stage 0 keeps 4 micro-batches of activations in flight (1F1B), stage 3 one: a
      // block costs 4x the memory on the first stage; even 2,2,2,2 overflows stage 0
      {"in-flight activations push blocks to the later stages", 8,
       costs({0, 0, 0, 0}, {1, 1, 1, 1}, {0, 0, 0, 0}, {40, 30, 20, 10}, 60), {1, 2, 3, 2},
       {2, 2, 2, 2}},
      {"a tight limit: the only feasible split", 3, costs({0, 0}, {1, 1}, {0, 0}, {10, 10}, 20),
       {2, 1}, {2, 1}},
      {"ties: the earlier stage takes more", 7, costs({0, 0}, {1, 1}, {0, 0}, {1, 1}, 100), {4, 3},
       {4, 3}},
      {"a slow middle stage and memory", 9, costs({0, 0, 1}, {1, 2, 1}, {0, 0, 0}, {5, 5, 5}, 20),
       {4, 2, 3}, {4, 2, 3}},
      {"a slow middle stage, memory too tight for 4 blocks", 9,
       costs({0, 0, 1}, {1, 2, 1}, {0, 0, 0}, {5, 5, 5}, 15), {3, 3, 3}, {4, 2, 3}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const StagePartition p = partition_stages(c.layers, c.c);
    EXPECT_EQ(p.sizes, c.want);
    EXPECT_EQ(p.fastest, c.fastest);
    EXPECT_EQ(p.memory_bound(), c.want != c.fastest);
    EXPECT_DOUBLE_EQ(p.busiest, busiest_stage(p.sizes, c.c));
    if (c.c.limit_bytes > 0) {
      EXPECT_LE(p.peak_bytes, c.c.limit_bytes);
    }
    // No feasible partition has a less busy busiest stage; no partition at all a less
    // busy one than `fastest`.
    each_partition(c.layers, static_cast<int>(c.c.scale.size()), [&](const std::vector<int>& sz) {
      EXPECT_GE(busiest_stage(sz, c.c) + 1e-12, p.fastest_busiest);
      if (c.c.limit_bytes == 0 || peak_stage_bytes(sz, c.c) <= c.c.limit_bytes) {
        EXPECT_GE(busiest_stage(sz, c.c) + 1e-12, p.busiest);
      }
    });
  }
}

// With M micro-batches the objective is the simulated step (fill and drain included),
// not the busiest stage. The figures are block-times with backward = 2 forward:
// --layers 6 --pp 2, stage 1 2x slower, head 0.29 blocks, M = 2: 4,2 has the less busy
// busiest stage (4.58 vs 5) but the longer step (13.16 vs 10.91): 5,1, as measured
// (docs/BALANCE.md); with M = 8 the steady state dominates and 4,2 wins (40.64 vs
// 40.91). Each choice is checked against every partition.
TEST(StagePartition, LeastStepTable) {
  struct Case {
    const char* what;
    int layers, M;
    PipeSchedule sched;
    StageCosts c;
    std::vector<int> want, fastest;
    double step;  // the simulated step of `want`, 0: not checked
  };
  auto with = [](StageCosts c, int M, PipeSchedule s) {
    c.micro_batches = M, c.schedule = s;
    return c;
  };
  const PipeSchedule f1b = PipeSchedule::one_f_one_b, gp = PipeSchedule::gpipe;
  const Case cases[] = {
      {"M=2: the fill and drain favour 5,1", 6, 2, f1b, costs({0, 0.29}, {1, 2}, {}, {}, 0),
       {5, 1}, {5, 1}, 10.91333333333},
      {"M=8: the steady state favours 4,2", 6, 8, f1b, costs({0, 0.29}, {1, 2}, {}, {}, 0),
       {4, 2}, {4, 2}, 40.64},
      {"equal hardware, head 1.23: 4,2 either way", 6, 2, f1b, costs({0, 1.23}, {1, 1}, {}, {}, 0),
       {4, 2}, {4, 2}, 10.46},
      {"GPipe, M=2, stage 1 2x slower", 6, 2, gp, costs({0, 0.29}, {1, 2}, {}, {}, 0), {5, 1},
       {5, 1}, 0},
      {"M=2 but 5,1 does not fit: 4,2", 6, 2, f1b, costs({0, 0.29}, {1, 2}, {30, 5}, {10, 10}, 75),
       {4, 2}, {5, 1}, 13.16},
      {"four stages, a slow third", 12, 4, f1b, costs({0, 0, 0, 1}, {1, 1, 3, 1}, {}, {}, 0), {}, {},
       0},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.what);
    const StageCosts c = with(k.c, k.M, k.sched);
    const StagePartition p = partition_stages(k.layers, c);
    if (!k.want.empty()) {
      EXPECT_EQ(p.sizes, k.want);
      EXPECT_EQ(p.fastest, k.fastest);
    }
    if (k.step > 0) {
      EXPECT_NEAR(p.step, k.step, 1e-6);
    }
    EXPECT_DOUBLE_EQ(p.step, pipeline_step(p.sizes, c));
    each_partition(k.layers, static_cast<int>(c.scale.size()), [&](const std::vector<int>& sz) {
      EXPECT_GE(pipeline_step(sz, c) + 1e-9, pipeline_step(p.fastest, c));
      if (c.limit_bytes == 0 || peak_stage_bytes(sz, c) <= c.limit_bytes) {
        EXPECT_GE(pipeline_step(sz, c) + 1e-9, p.step);
      }
    });
  }
}

// Too many partitions to try them all (C(39, 5) > kExhaustivePartitions): the local
// search from the least busiest stage never returns a longer step than its start.
TEST(StagePartition, LeastStepLocalSearchOnLargeModels) {
  StageCosts c = costs({0, 0, 0, 0, 0, 2.5}, {1, 1.5, 1, 1, 2, 1}, {}, {}, 0);
  const StagePartition busiest = partition_stages(40, c);
  c.micro_batches = 6;
  const StagePartition p = partition_stages(40, c);
  int sum = 0;
  for (int k : p.sizes) {
    sum += k;
    EXPECT_GE(k, 1);
  }
  EXPECT_EQ(sum, 40);
  EXPECT_LE(p.step, pipeline_step(busiest.sizes, c) + 1e-9);
}

TEST(StagePartition, NothingFitsIsAClearError) {
  try {
    partition_stages(6, costs({0, 0}, {1, 1}, {1 << 20, 0}, {1 << 20, 1 << 20}, 3 << 20));
    FAIL() << "expected a UsageError";
  } catch (const UsageError& e) {
    // least memory: 2,4 (3 MiB and 4 MiB) or 3,3 (4 and 3): 4 MiB either way
    EXPECT_EQ(std::string(e.what()),
              "no split of 6 blocks into 2 pipeline stages fits 3.0 MiB per stage; the one "
              "needing the least memory, 3,3, needs 4.0 MiB (stage 0)");
  }
  EXPECT_THROW(partition_stages(2, costs({0, 0, 0}, {1, 1, 1}, {}, {}, 0)), UsageError);
  EXPECT_THROW(partition_stages(4, costs({0}, {1, 1}, {}, {}, 0)), UsageError);
  EXPECT_THROW(partition_stages(4, costs({0, 0}, {1, 1}, {0}, {}, 0)), UsageError);
  EXPECT_EQ(stages_string({4, 2, 1}), "4,2,1");
}

// Repartitioning: measured busy times per stage become per-stage costs; the advice is
// the best partition under them and how much faster it is predicted to be.
TEST(StagePartition, RepartitionAdviceTable) {
  struct Case {
    const char* what;
    std::vector<int> sizes;
    std::vector<double> busy;
    StageCosts c;
    std::vector<int> best;
    double excess;
  };
  const Case cases[] = {
      // stage 1 runs 2x slower per block: 4,2 (4 and 2 x 2) instead of 3,3 (3 and 6)
      {"a slow stage", {3, 3}, {3, 6}, costs({0, 0}, {1, 1}, {}, {}, 0), {4, 2}, 6.0 / 4 - 1},
      {"balanced already", {4, 2}, {4, 4}, costs({0, 0}, {1, 1}, {}, {}, 0), {4, 2}, 0},
      // a head worth 1 block on the last stage: busy 3 and 4 are one unit each per
      // block-time; 4,2 predicts the same busiest stage (4): nothing to gain
      {"the head explains it", {3, 3}, {3, 4}, costs({0, 1}, {1, 1}, {}, {}, 0), {4, 2}, 0},
      // the same slow stage, but the first stage cannot hold a fourth block
      {"memory keeps it", {3, 3}, {3, 6}, costs({0, 0}, {1, 1}, {0, 0}, {10, 10}, 35), {3, 3}, 0},
      // three stages, the middle one 3x slower: 4,1,3 predicts 4 (max 4, 3, 3) against 6
      {"three stages", {3, 2, 3}, {3, 6, 3}, costs({0, 0, 0}, {1, 1, 1}, {}, {}, 0), {4, 1, 3},
       6.0 / 4 - 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const RepartitionAdvice a = advise_repartition(c.sizes, c.busy, c.c);
    EXPECT_EQ(a.best, c.best);
    EXPECT_NEAR(a.excess(), c.excess, 1e-12);
    EXPECT_DOUBLE_EQ(a.measured, *std::max_element(c.busy.begin(), c.busy.end()));
  }
  EXPECT_THROW(advise_repartition({3, 3}, {1}, StageCosts{}), UsageError);
}

}  // namespace
}  // namespace plait
