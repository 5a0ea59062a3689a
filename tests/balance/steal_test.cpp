// The plan of a step under work stealing (balance/steal.h).
#include "balance/steal.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "util/error.h"

namespace plait::balance {
namespace {

using V = std::vector<int64_t>;

// Every sequence of [0, total) is in exactly one own part or pool chunk.
void expect_partition(const StealPlan& p, int64_t total) {
  std::vector<int> seen(total, 0);
  for (size_t r = 0; r < p.own.size(); ++r)
    for (int64_t i = 0; i < p.own[r]; ++i) ++seen.at(p.own_first[r] + i);
  for (size_t k = 0; k < p.chunks.size(); ++k) {
    const SeqRange c = p.chunk(static_cast<int64_t>(k));
    EXPECT_GT(c.count, 0);
    for (int64_t i = 0; i < c.count; ++i) ++seen.at(c.first + i);
  }
  for (int64_t j = 0; j < total; ++j) EXPECT_EQ(seen[j], 1) << "sequence " << j;
}

TEST(StealPlan, OwnPartsThenGuidedChunks) {
  const StealPlan p = steal_plan(V{21, 11}, 0.25, 1);
  EXPECT_EQ(p.own, (V{16, 9}));  // 21 - floor(5.25), 11 - floor(2.75)
  EXPECT_EQ(p.own_first, (V{0, 16}));
  EXPECT_EQ(p.pool_first, 25);
  EXPECT_EQ(p.chunks, (V{2, 2, 1, 1, 1}));  // ceil(left / 4): 7 -> 2, 5 -> 2, 3 -> 1 ...
  EXPECT_EQ(p.chunk(0).first, 25);
  EXPECT_EQ(p.chunk(1).first, 27);
  EXPECT_EQ(p.chunk(4).first, 31);
  EXPECT_EQ(p.chunk(5).count, 0);  // past the last chunk: nothing
  EXPECT_EQ(p.chunk(-1).count, 0);
  EXPECT_EQ(p.claims_per_step(2), 7);  // 5 chunks + one empty claim per unit
  expect_partition(p, 32);
}

TEST(StealPlan, TableOfSplits) {
  struct Case {
    V shares;
    double fraction;
    int64_t min_chunk;
    V own, chunks;
  };
  const std::vector<Case> cases = {
      {{8, 8}, 0.0, 1, {8, 8}, {}},                 // no pool: the static split
      {{8, 8}, 1.0, 1, {0, 0}, {4, 3, 3, 2, 1, 1, 1, 1}},  // everything claimed
      {{4, 4}, 0.25, 1, {3, 3}, {1, 1}},
      {{10, 6, 3}, 0.3, 2, {7, 5, 3}, {2, 2}},      // min_chunk 2: 4 -> 2, 2
      {{0, 5}, 0.5, 1, {0, 3}, {1, 1}},             // a unit with no share
      {{1, 1, 1}, 0.25, 1, {1, 1, 1}, {}},          // nothing to give away
  };
  for (const Case& c : cases) {
    const StealPlan p = steal_plan(c.shares, c.fraction, c.min_chunk);
    EXPECT_EQ(p.own, c.own);
    EXPECT_EQ(p.chunks, c.chunks);
    expect_partition(p, std::accumulate(c.shares.begin(), c.shares.end(), int64_t{0}));
  }
}

TEST(StealPlan, RefusesBadArguments) {
  EXPECT_THROW(steal_plan(V{4, 4}, 1.5, 1), UsageError);
  EXPECT_THROW(steal_plan(V{4, 4}, 0.25, 0), UsageError);
  EXPECT_THROW(steal_plan(V{4, -1}, 0.25, 1), UsageError);
}

}  // namespace
}  // namespace plait::balance
