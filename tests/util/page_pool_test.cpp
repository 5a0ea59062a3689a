#include "util/page_pool.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "util/pages.h"

namespace plait {
namespace {

const size_t kPage = static_cast<size_t>(::sysconf(_SC_PAGESIZE)) / sizeof(float);

long minor_faults() {
  rusage u{};
  ::getrusage(RUSAGE_THREAD, &u);
  return u.ru_minflt;
}

bool all_zero(std::span<const float> s) {
  return std::all_of(s.begin(), s.end(), [](float x) { return x == 0.0f; });
}

TEST(PagePool, LentWindowKeepsWritesAndReadsZeroWhenGivenBack) {
  std::vector<float> arena(40 * kPage, 1.0f);
  PagePool pool(64 * kPage * sizeof(float), /*zeroed=*/true);
  const std::span<float> w(arena.data() + kPage / 2, 10 * kPage);  // partial edge pages
  pages::release(w);
  ASSERT_TRUE(pool.lend(w));
  EXPECT_TRUE(all_zero(w));
  std::iota(w.begin(), w.end(), 1.0f);
  EXPECT_EQ(w[5 * kPage], 5.0f * kPage + 1);
  EXPECT_GE(pages::resident_bytes(w), 9 * kPage * sizeof(float));  // the slot's pages
  EXPECT_TRUE(pool.give_back(w));
  EXPECT_LE(pages::resident_bytes(w), 2 * kPage * sizeof(float));  // the edges only
  EXPECT_TRUE(all_zero(w));
  EXPECT_EQ(arena[kPage / 2 - 1], 1.0f);  // outside the window: untouched
  EXPECT_EQ(arena[kPage / 2 + 10 * kPage], 1.0f);
  EXPECT_EQ(pool.bytes(), 9 * kPage * sizeof(float));  // the whole pages inside
  EXPECT_EQ(pool.lent_bytes(), 0u);
}

TEST(PagePool, SlotsAreReusedWithoutNewFaultsAndZeroedForTheNextWindow) {
  std::vector<float> arena(64 * kPage, 0.0f);
  PagePool pool(64 * kPage * sizeof(float), /*zeroed=*/true);
  const std::span<float> a(arena.data() + kPage, 16 * kPage), b(arena.data() + 32 * kPage, 16 * kPage);
  pages::release(a);
  pages::release(b);
  ASSERT_TRUE(pool.lend(a));
  std::fill(a.begin(), a.end(), 3.0f);
  ASSERT_TRUE(pool.give_back(a));
  const long before = minor_faults();
  ASSERT_TRUE(pool.lend(b));  // the same slot, populated: no page faults
  EXPECT_TRUE(all_zero(b));   // zeroed for it
  std::fill(b.begin(), b.end(), 4.0f);
  EXPECT_LT(minor_faults() - before, static_cast<long>(16 / 2));
  EXPECT_LE(pool.bytes(), 16 * kPage * sizeof(float));  // one slot: a's whole pages
  EXPECT_GE(pool.bytes(), 15 * kPage * sizeof(float));
  ASSERT_TRUE(pool.give_back(b));
  EXPECT_EQ(pool.lends(), 2u);
}

TEST(PagePool, UnzeroedPoolHandsOutStalePages) {
  std::vector<float> arena(64 * kPage, 0.0f);
  PagePool pool(64 * kPage * sizeof(float), /*zeroed=*/false);
  const std::span<float> a(arena.data() + kPage, 8 * kPage), b(arena.data() + 32 * kPage, 8 * kPage);
  ASSERT_TRUE(pool.lend(a));
  std::fill(a.begin(), a.end(), 7.0f);
  ASSERT_TRUE(pool.give_back(a));
  EXPECT_TRUE(all_zero(a));
  ASSERT_TRUE(pool.lend(b));
  EXPECT_EQ(b[kPage + 3], 7.0f);  // a's floats: the caller overwrites them (a gather)
  ASSERT_TRUE(pool.give_back(b));
}

TEST(PagePool, RefusesOverlapsAndWindowsPastTheCap) {
  std::vector<float> arena(64 * kPage, 0.0f);
  PagePool pool(12 * kPage * sizeof(float), /*zeroed=*/true);
  const std::span<float> a(arena.data(), 8 * kPage + 8);
  ASSERT_TRUE(pool.lend(a));
  EXPECT_FALSE(pool.lend(std::span<float>(arena.data() + 4 * kPage, 4 * kPage)));  // overlaps
  EXPECT_FALSE(pool.lend(std::span<float>(arena.data() + 20 * kPage, 8 * kPage)));  // past the cap
  EXPECT_FALSE(pool.lend(std::span<float>(arena.data() + 40 * kPage + 1, kPage)));  // no whole page
  EXPECT_TRUE(pool.lend(std::span<float>(arena.data() + 20 * kPage, 4 * kPage)));   // fits
  // a window that was not lent is released: zero afterwards
  const std::span<float> other(arena.data() + 50 * kPage, 4 * kPage);
  std::fill(other.begin(), other.end(), 2.0f);
  EXPECT_FALSE(pool.give_back(other));
  EXPECT_TRUE(all_zero(other));
}

TEST(PagePool, DestructorLeavesLentWindowsWithTheirContents) {
  std::vector<float> arena(32 * kPage, 0.0f);
  const std::span<float> w(arena.data() + kPage, 8 * kPage);
  {
    PagePool pool(16 * kPage * sizeof(float), /*zeroed=*/true);
    ASSERT_TRUE(pool.lend(w));
    std::iota(w.begin(), w.end(), 0.0f);
  }
  for (size_t i = 0; i < w.size(); ++i) ASSERT_EQ(w[i], static_cast<float>(i));
  std::fill(w.begin(), w.end(), 1.0f);  // ordinary memory again
  EXPECT_EQ(w[7 * kPage], 1.0f);
}

}  // namespace
}  // namespace plait
