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
  EXPECT_EQ(p.pool, 7);
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

// claim_size: a unit's part by speed of half of what is left; 0 where it would finish
// later than the others finish everything left; the fastest never declines.
TEST(ClaimSize, TableOfCostsAndPoolsLeft) {
  using C = std::vector<double>;
  struct Row {
    int64_t left;
    int unit;
    C costs;
    int64_t min_chunk, n;
    double pending = 0;  // the others' own parts still to run
  };
  const std::vector<Row> rows = {
      {7, 0, {}, 1, 4},                 // no costs: ceil(7 / 2) (one unit)
      {7, 1, {0, 0}, 1, 2},             // unknown: ceil(7 / 4), never 0
      {1, 1, {0.001, 0}, 1, 1},
      {8, 0, {1, 1}, 1, 2},             // equal: ceil(8 x 1 / (2 x 2))
      {8, 1, {1, 1}, 1, 2},             // a tie: 2 x 1 <= 8 / 1
      {1, 1, {1, 1}, 1, 1},             // 1 <= 1: takes the last one too
      {1, 1, {1, 1.01}, 1, 0},          // a hair slower: leaves the last one
      {1, 0, {1, 1.01}, 1, 1},          // the fastest never declines
      {2, 1, {1, 1.01}, 1, 1},
      {7, 0, {1, 1.0 / 0.6, 1.0 / 0.3}, 1, 2},  // ceil(7 x 1 / 3.8)
      {7, 1, {1, 1.0 / 0.6, 1.0 / 0.3}, 1, 2},  // ceil(7 x 0.6 / 3.8) = 2: 3.33 <= 7 / 1.3
      {7, 2, {1, 1.0 / 0.6, 1.0 / 0.3}, 1, 1},  // ceil(0.55) = 1: 3.33 <= 7 / 1.6
      {5, 2, {1, 1.0 / 0.6, 1.0 / 0.3}, 1, 0},  // 3.33 > 5 / 1.6: leaves it
      {5, 2, {1, 1.0 / 0.6, 1.0 / 0.3}, 1, 1, 1},    // the others busy: 3.33 <= 6 / 1.6
      {5, 2, {1, 1.0 / 0.6, 1.0 / 0.3}, 1, 0, 0.3},  // not busy enough: 3.33 > 5.3 / 1.6
      {5, 2, {1, 1.0 / 0.6, 1.0 / 0.3}, 1, 0, -4},   // a negative estimate counts as 0
      {1, 1, {1, 1.01}, 1, 1, 0.5},                  // 1.01 <= 1.5 / 1
      {3, 1, {1, 1.0 / 0.6, 1.0 / 0.3}, 1, 1},  // 1.67 <= 3 / 1.3
      {2, 1, {1, 1.0 / 0.6, 1.0 / 0.3}, 1, 0},  // 1.67 > 2 / 1.3
      {1, 0, {1, 1.0 / 0.6, 1.0 / 0.3}, 1, 1},
      {7, 1, {1, 2}, 3, 3},             // min_chunk 3: 3 x 2 <= 7 / 1
      {5, 1, {1, 2}, 3, 0},             // 3 x 2 > 5
      {2, 0, {1, 2}, 3, 2},             // at most what is left
      {40, 1, {1, 2}, 1, 7},            // ceil(40 x 0.5 / 3)
      {0, 0, {1, 2}, 1, 0},             // nothing left
  };
  for (const Row& r : rows)
    EXPECT_EQ(claim_size(r.left, r.unit, r.costs, r.min_chunk, r.pending), r.n)
        << "left " << r.left << " unit " << r.unit << " min_chunk " << r.min_chunk
        << " pending " << r.pending;
}

// The others' own parts left at a time into the step: each unit runs its own part at
// its cost from the step's start.
TEST(OwnLeft, TableOfTimesIntoTheStep) {
  const StealPlan p = steal_plan(V{18, 9, 5}, 0.25, 1);  // own parts 14, 7, 4
  ASSERT_EQ(p.own, (V{14, 7, 4}));
  const std::vector<double> costs = {1, 2, 4};
  struct Row {
    int unit;
    double elapsed, left;
  };
  for (const Row& r : {Row{2, 0, 21}, Row{2, 4, 10 + 5}, Row{2, 10, 4 + 2}, Row{2, 14, 0},
                       Row{0, 6, 4 + 2.5}, Row{1, 16, 0 + 0}, Row{0, -1, 11}})
    EXPECT_DOUBLE_EQ(own_left(p, costs, r.unit, r.elapsed), r.left)
        << "unit " << r.unit << " at " << r.elapsed << " s";
  EXPECT_EQ(own_left(p, std::vector<double>{1, 0, 4}, 2, 1), 0) << "a cost unknown";
  EXPECT_EQ(own_left(p, std::vector<double>{1, 2}, 2, 1), 0) << "costs of other units";
}

// Units claiming in the order they become free (an event simulation with the costs as
// the true times): whatever the costs and start times, the pool empties, and a claim
// never takes more than is left.
TEST(ClaimSize, EveryPoolEmpties) {
  using C = std::vector<double>;
  for (const C& costs : {C{1, 1}, C{1, 2}, C{1, 1.0 / 0.6, 1.0 / 0.3}, C{5, 1, 3, 1},
                         C{1, 1000}, C{0, 1}}) {
    for (int64_t pool : {1, 2, 7, 13, 64}) {
      std::vector<double> free_at(costs.size());
      for (size_t u = 0; u < costs.size(); ++u) free_at[u] = 0.5 * static_cast<double>(u % 3);
      std::vector<bool> out(costs.size(), false);
      int64_t left = pool;
      while (left > 0) {
        size_t u = costs.size();
        for (size_t i = 0; i < costs.size(); ++i)
          if (!out[i] && (u == costs.size() || free_at[i] < free_at[u])) u = i;
        ASSERT_LT(u, costs.size()) << "every unit stopped with " << left << " left";
        const int64_t n = claim_size(left, static_cast<int>(u), costs, 1);
        ASSERT_LE(n, left);
        if (n == 0) out[u] = true;
        left -= n;
        free_at[u] += static_cast<double>(n) * (costs[u] > 0 ? costs[u] : 1);
      }
      EXPECT_EQ(left, 0);
    }
  }
}

// Whether a step has a pool (--balance auto): none while the units' measured speeds and
// the split's predicted compute times agree within the band (0.1 here, the default
// --balance-threshold); the pool (0.25) as soon as they differ or a cost is unknown.
TEST(PoolFraction, TableOfSpeedsAndSplits) {
  using C = std::vector<double>;
  struct Row {
    const char* what;
    V shares;
    C costs;
    double pool;
  };
  const std::vector<Row> rows = {
      {"equal speeds, even split", {16, 16}, {1, 1}, 0},
      {"one rank 2x slower, even split", {16, 16}, {1, 2}, 0.25},
      {"one rank 2x slower, split by speed", {22, 11}, {1, 2}, 0.25},
      {"speeds inside the band", {16, 16}, {1, 1.08}, 0},
      {"speeds 9% apart", {16, 16}, {1, 1.09}, 0},
      {"speeds just outside the band", {16, 16}, {1, 1.12}, 0.25},
      {"three ranks inside the band", {11, 11, 10}, {1.02, 1, 1.05}, 0},  // 11.22 / 10.5
      // 11.55 / 10.2 apart:
      {"speeds inside, the larger shares slower", {11, 11, 10}, {1.05, 1, 1.02}, 0.25},
      {"three ranks, one 3.3x slower", {11, 11, 10}, {1, 1, 3.3}, 0.25},
      {"equal speeds, shares a sequence apart", {11, 10}, {1, 1}, 0},
      {"equal speeds, an uneven split (a slowdown ended)", {20, 12}, {1, 1}, 0.25},
      {"a cost unknown (the first step)", {16, 16}, {0, 0}, 0.25},
      {"one unknown", {16, 16}, {1, 0}, 0.25},
      {"costs for other units", {16, 16}, {1}, 0.25},
      {"a unit without a share, equal speeds", {32, 0}, {1, 1}, 0},
      {"one unit: nobody to steal from", {32}, {1}, 0},
  };
  for (const Row& r : rows)
    EXPECT_DOUBLE_EQ(pool_fraction(r.shares, r.costs, 0.1, 0.25), r.pool) << r.what;
  EXPECT_EQ(pool_fraction(V{16, 16}, C{1, 1.01}, 0.0, 0.25), 0.25) << "band 0: exactly equal only";
  EXPECT_EQ(pool_fraction(V{16, 16}, C{1, 1}, 0.0, 0.25), 0) << "band 0, equal";
}

TEST(StealPlan, RefusesBadArguments) {
  EXPECT_THROW(steal_plan(V{4, 4}, 1.5, 1), UsageError);
  EXPECT_THROW(steal_plan(V{4, 4}, 0.25, 0), UsageError);
  EXPECT_THROW(steal_plan(V{4, -1}, 0.25, 1), UsageError);
}

}  // namespace
}  // namespace plait::balance
