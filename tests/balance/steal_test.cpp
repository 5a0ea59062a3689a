// The plan of a step under work stealing (balance/steal.h).
#include "balance/steal.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
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

// claim_size: an earliest-finish deal of what is left, given when the others expect to
// be free; the claimant takes its guided part (by speed, of half of what is left), at
// most what the deal gives it, and 0 when the deal gives it nothing.
TEST(ClaimSize, TableOfCostsFreeTimesAndPoolsLeft) {
  using C = std::vector<double>;
  const double inf = std::numeric_limits<double>::infinity();
  const C three = {1, 1.0 / 0.6, 1.0 / 0.3};  // speeds 1, 0.6, 0.3 (sum 1.9)
  struct Row {
    const char* what;
    int64_t left;
    int unit;
    C costs;
    int64_t min_chunk;
    double now;
    C free;
    int64_t n;
  };
  const std::vector<Row> rows = {
      {"no costs: ceil(7 / 2) (one unit)", 7, 0, {}, 1, 0, {}, 4},
      {"a cost unknown: ceil(7 / 4), never 0", 7, 1, {0, 0}, 1, 0, {0, 0}, 2},
      {"unknown, the last one", 1, 1, {0.001, 0}, 1, 0, {0, 0}, 1},
      {"equal, both free: deal 4 each, guided ceil(8 / 4)", 8, 1, {1, 1}, 1, 0, {0, 0}, 2},
      {"a tie goes to the claimant: the last one", 1, 1, {1, 1}, 1, 0, {0, 0}, 1},
      {"a hair slower, the other free: leaves the last one", 1, 1, {1, 1.01}, 1, 0, {0, 0}, 0},
      {"the fastest never declines", 1, 0, {1, 1.01}, 1, 0, {0, 0}, 1},
      {"the fastest, even with the other free earlier", 1, 0, {1, 1.01}, 1, 5, {0, 0}, 1},
      {"a hair slower, the other busy 0.5 s: takes it", 1, 1, {1, 1.01}, 1, 0, {0.5, 0}, 1},
      {"a time before now counts as now", 1, 1, {1, 1.01}, 1, 3, {0.5, 0}, 0},
      {"three, the fastest: ceil(7 / 3.8)", 7, 0, three, 1, 0, {0, 0, 0}, 2},
      {"three, the middle: ceil(7 x 0.6 / 3.8)", 7, 1, three, 1, 0, {0, 0, 0}, 2},
      // The deal of 7 with every unit free: A 1 2 3 4 5, B 1.67 3.33 (C 3.33 ties: C).
      {"three, the slowest, all free: dealt 1", 7, 2, three, 1, 0, {0, 0, 0}, 1},
      // Old rule (fluid, only own parts pending): 3.33 > 2 / 1.6, declined although both
      // others hold 5 s of claims; the deal gives C the first sequence (3.33 < 6).
      {"the others busy with their claims: takes one", 2, 2, three, 1, 0, {5, 5, 0}, 1},
      // Old rule: (1 + 6 pending) / 1.6 = 4.4 >= 3.33, claimed; B is free and finishes
      // it at 1.67, C would at 3.33: the step ends with A either way, C leaves it.
      {"the other busy is not the one free: leaves it", 1, 2, three, 1, 0, {6, 0, 0}, 0},
      {"the slowest, both others free: leaves the tail", 3, 2, three, 1, 0, {0, 0, 0}, 0},
      // Free at 1: A 2 3 and B 2.67 take the 3 before C's 3.33; a sequence is whole.
      {"the slowest, others free at 1", 3, 2, three, 1, 0, {1, 1, 0}, 0},
      // Free at 2: A 3, then C 3.33 before B 3.67 and A 4: C ends the step sooner.
      {"the slowest, others free at 2", 3, 2, three, 1, 0, {2, 2, 0}, 1},
      {"the others claim no more: takes its part", 3, 2, three, 1, 0, {inf, inf, 0}, 1},
      {"the middle, A claims no more: its part", 7, 1, three, 1, 0, {inf, 0, 0}, 2},
      {"free shorter than costs: the missing free now", 1, 1, {1, 1.01}, 1, 0, {}, 0},
      {"NaN counts as now", 1, 1, {1, 1.01}, 1, 0, {std::nan(""), 0}, 0},
      {"min_chunk 3: pieces 3 3 1, dealt the second", 7, 1, {1, 2}, 3, 0, {0, 0}, 3},
      // Old rule: 3 x 2 > 5, declined; the deal: A the first 3 (at 3), U the last 2 (at
      // 4 < A's 5): U takes 2, less than min_chunk, the last piece
      {"min_chunk 3: pieces 3 2, dealt the last", 5, 1, {1, 2}, 3, 0, {0, 0}, 2},
      {"at most what is left", 2, 0, {1, 2}, 3, 0, {0, 0}, 2},
      {"guided: ceil(40 x 0.5 / 3)", 40, 1, {1, 2}, 1, 0, {0, 0}, 7},
      {"nothing left", 0, 0, {1, 2}, 1, 0, {0, 0}, 0},
  };
  for (const Row& r : rows)
    EXPECT_EQ(claim_size(r.left, r.unit, r.costs, r.min_chunk, r.now, r.free), r.n) << r.what;
}

// The board's entries: a time in whole microseconds, tagged with the step.
TEST(ClaimBoard, EntriesRoundTripWithinTheirStep) {
  const double inf = std::numeric_limits<double>::infinity();
  for (int64_t step : {int64_t{0}, int64_t{1}, int64_t{59}, int64_t{1} << 30}) {
    EXPECT_DOUBLE_EQ(board_free(board_entry(step, 0.0123456), step), 0.012346);
    EXPECT_DOUBLE_EQ(board_free(board_entry(step, 0), step), 0);
    EXPECT_DOUBLE_EQ(board_free(board_entry(step, -2), step), 0) << "negative: 0";
    EXPECT_EQ(board_free(board_entry(step, inf), step), inf);
    EXPECT_GT(board_free(board_entry(step, 1e9), step), 1e5) << "clamped, not +inf";
    EXPECT_LT(board_free(board_entry(step, 1e9), step), inf);
    EXPECT_TRUE(std::isnan(board_free(board_entry(step, 0.5), step + 1))) << "another step";
    EXPECT_TRUE(std::isnan(board_free(board_entry(step + 1, inf), step)));
    EXPECT_GT(board_entry(step, 0), 0);
  }
  EXPECT_TRUE(std::isnan(board_free(0, 0))) << "never written";
  EXPECT_TRUE(std::isnan(board_free(0, 7)));
}

// Units claiming in the order they become free (an event simulation with the costs as
// the true times, each unit's own part ending at start[u], the board as claim() keeps
// it): whatever the costs and start times, the pool empties, a claim never takes more
// than is left, and the step ends no later than an earliest-finish deal of the whole
// pool from the own parts' ends (the best any assignment of whole sequences can do,
// for identical sequences on units of fixed speeds).
TEST(ClaimSize, EveryPoolEmptiesByTheEarliestFinish) {
  using C = std::vector<double>;
  const double inf = std::numeric_limits<double>::infinity();
  for (const C& costs : {C{1, 1}, C{1, 2}, C{1, 1.0 / 0.6, 1.0 / 0.3}, C{5, 1, 3, 1},
                         C{1, 1000}, C{0, 1}}) {
    const bool known = costs[0] > 0;
    for (int64_t pool : {1, 2, 7, 13, 64}) {
      C start(costs.size());
      for (size_t u = 0; u < costs.size(); ++u) start[u] = 0.5 * static_cast<double>(u % 3);
      C free_at = start, board = start;
      std::vector<bool> out(costs.size(), false);
      int64_t left = pool;
      while (left > 0) {
        size_t u = costs.size();
        for (size_t i = 0; i < costs.size(); ++i)
          if (!out[i] && (u == costs.size() || free_at[i] < free_at[u])) u = i;
        ASSERT_LT(u, costs.size()) << "every unit stopped with " << left << " left";
        const int64_t n = claim_size(left, static_cast<int>(u), costs, 1, free_at[u], board);
        ASSERT_LE(n, left);
        if (n == 0) out[u] = true;
        left -= n;
        free_at[u] += static_cast<double>(n) * (known ? costs[u] : 1);
        board[u] = n == 0 ? inf : free_at[u];
      }
      EXPECT_EQ(left, 0);
      if (!known) continue;
      // The whole pool dealt sequence by sequence from the own parts' ends.
      C best = start;
      for (int64_t i = 0; i < pool; ++i) {
        size_t v = 0;
        for (size_t w = 1; w < costs.size(); ++w)
          if (best[w] + costs[w] < best[v] + costs[v]) v = w;
        best[v] += costs[v];
      }
      const double end = *std::max_element(free_at.begin(), free_at.end());
      const double opt = *std::max_element(best.begin(), best.end());
      EXPECT_LE(end, opt + 1e-9) << "pool " << pool << " units " << costs.size()
                                 << " cost[0] " << costs[0];
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
