#include "balance/split.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "util/error.h"

namespace plait::balance {

static int64_t sum(const std::vector<int64_t>& v) {
  return std::accumulate(v.begin(), v.end(), int64_t{0});
}

TEST(SplitEqual, RemainderGoesToFirstRanks) {
  EXPECT_EQ(split_equal(10, 4), (std::vector<int64_t>{3, 3, 2, 2}));
  EXPECT_EQ(split_equal(8, 4), (std::vector<int64_t>{2, 2, 2, 2}));
  EXPECT_EQ(split_equal(2, 5), (std::vector<int64_t>{1, 1, 0, 0, 0}));
  EXPECT_EQ(split_equal(0, 3), (std::vector<int64_t>{0, 0, 0}));
  EXPECT_EQ(split_equal(7, 1), (std::vector<int64_t>{7}));
  for (int parts = 1; parts <= 9; ++parts)
    for (int64_t total = 0; total < 40; ++total) {
      auto s = split_equal(total, parts);
      EXPECT_EQ(sum(s), total);
      EXPECT_LE(s.front() - s.back(), 1);
    }
}

TEST(SplitEqual, BadArgs) {
  EXPECT_THROW(split_equal(4, 0), UsageError);
  EXPECT_THROW(split_equal(-1, 2), UsageError);
}

TEST(SplitProportional, LargestRemainder) {
  std::vector<double> speeds = {1, 1, 2};
  EXPECT_EQ(split_proportional(8, speeds), (std::vector<int64_t>{2, 2, 4}));
  // quotas 3.33 3.33 3.33: one unit left, tie -> lowest rank.
  std::vector<double> equal = {5, 5, 5};
  EXPECT_EQ(split_proportional(10, equal), (std::vector<int64_t>{4, 3, 3}));
  // quotas 1.5 3.0 4.5 (sum 9): floors 1 3 4, 1 left; remainders .5 0 .5 -> rank 0.
  std::vector<double> s3 = {1, 2, 3};
  EXPECT_EQ(split_proportional(9, s3), (std::vector<int64_t>{2, 3, 4}));
  // quotas 0.7 2.1 7.2 -> floors 0 2 7, 1 left -> rank 0 (0.7 largest).
  std::vector<double> s4 = {0.7, 2.1, 7.2};
  EXPECT_EQ(split_proportional(10, s4), (std::vector<int64_t>{1, 2, 7}));
}

TEST(SplitProportional, ZeroSpeedGetsNothing) {
  std::vector<double> speeds = {0, 3, 0, 1};
  auto s = split_proportional(7, speeds);
  EXPECT_EQ(s, (std::vector<int64_t>{0, 5, 0, 2}));  // 5.25, 1.75 -> 5, 1 (+1 to 0.75)
  std::vector<double> one = {0, 0, 2};
  EXPECT_EQ(split_proportional(5, one), (std::vector<int64_t>{0, 0, 5}));
}

TEST(SplitProportional, AlwaysSumsExactlyAndNonNegative) {
  uint64_t x = 12345;
  for (int trial = 0; trial < 2000; ++trial) {
    int n = 1 + trial % 9;
    std::vector<double> speeds(n);
    for (auto& s : speeds) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      s = (x >> 40) % 4 == 0 ? 0.0 : static_cast<double>(x >> 11) * 0x1.0p-53 * 10;
    }
    speeds[trial % n] += 0.1;  // at least one positive
    int64_t total = trial % 97;
    auto shares = split_proportional(total, speeds);
    ASSERT_EQ(sum(shares), total);
    double sp = std::accumulate(speeds.begin(), speeds.end(), 0.0);
    for (int r = 0; r < n; ++r) {
      ASSERT_GE(shares[r], 0);
      double quota = total * speeds[r] / sp;
      EXPECT_LT(std::abs(shares[r] - quota), 1.0 + 1e-9);  // Hamilton: within one of the quota
      if (speeds[r] == 0) {
        EXPECT_EQ(shares[r], 0);
      }
    }
  }
}

TEST(SplitProportional, BadArgs) {
  std::vector<double> none, neg = {1, -1}, zeros = {0, 0}, nan = {1, std::nan("")};
  EXPECT_THROW(split_proportional(4, none), UsageError);
  EXPECT_THROW(split_proportional(4, neg), UsageError);
  EXPECT_THROW(split_proportional(4, zeros), UsageError);
  EXPECT_THROW(split_proportional(4, nan), UsageError);
  std::vector<double> ok = {1};
  EXPECT_THROW(split_proportional(-1, ok), UsageError);
}

TEST(SplitStarts, PrefixSums) {
  std::vector<int64_t> shares = {3, 0, 2, 5};
  EXPECT_EQ(split_starts(shares), (std::vector<int64_t>{0, 3, 3, 5}));
  EXPECT_TRUE(split_starts(std::vector<int64_t>{}).empty());
}

}  // namespace plait::balance
