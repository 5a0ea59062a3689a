// Broadcast, reduce-scatter, allgather and barrier against their closed forms.
#include <atomic>

#include "comm_helpers.h"
#include "util/error.h"

namespace plait::comm {
namespace {

using test::Findings;

TEST(Broadcast, FromEveryRootEveryLength) {
  for (int p : {1, 2, 3, 5, 8}) {
    Findings wrong;
    run_threads(test::threads(p), [&](Comm& c) {
      for (int root = 0; root < p; ++root)
        for (std::size_t n : {0, 1, 1023, 100003}) {
          std::vector<float> v = test::filled(c.rank() == root ? 7 : c.rank(), n);
          broadcast(c.world(), std::as_writable_bytes(std::span(v)), root);
          for (std::size_t i = 0; i < n; ++i)
            if (v[i] != test::value(7, i)) {
              wrong.add("p " + std::to_string(p) + " root " + std::to_string(root) + " n " +
                        std::to_string(n) + " rank " + std::to_string(c.rank()));
              break;
            }
        }
    });
    for (const std::string& w : wrong.items()) ADD_FAILURE() << w;
  }
}

TEST(Broadcast, RejectsARootOutsideTheGroup) {
  EXPECT_THROW(run_threads(test::threads(2),
                           [](Comm& c) {
                             std::vector<std::byte> b(4);
                             broadcast(c.world(), b, 2);
                           }),
               UsageError);
}

TEST(ReduceScatter, EachRankOwnsItsSummedShardThenAllgatherCompletes) {
  for (int p : {1, 2, 3, 4, 5, 8}) {
    Findings wrong;
    run_threads(test::threads(p), [&](Comm& c) {
      for (std::size_t n : {0, 1, 7, 1023, 65537}) {
        std::vector<float> v = test::filled(c.rank(), n);
        std::span<float> mine = reduce_scatter(c.world(), std::span<float>(v));
        const Shard s = shard_of(n, p, c.rank());
        if (mine.data() != v.data() + s.offset || mine.size() != s.count) wrong.add("shard span");
        for (std::size_t i = 0; i < s.count; ++i)
          if (mine[i] != test::summed(p, s.offset + i)) {
            wrong.add("reduce-scatter p " + std::to_string(p) + " n " + std::to_string(n));
            break;
          }
        allgather(c.world(), std::span<float>(v));
        if (test::first_wrong(v, p) >= 0)
          wrong.add("allgather p " + std::to_string(p) + " n " + std::to_string(n));
      }
    });
    for (const std::string& w : wrong.items()) ADD_FAILURE() << w;
  }
}

TEST(Shards, CoverTheBufferWithTheFirstOnesLonger) {
  for (std::size_t n : {0, 1, 7, 8, 1001})
    for (int p : {1, 3, 8}) {
      std::size_t next = 0;
      for (int i = 0; i < p; ++i) {
        const Shard s = shard_of(n, p, i);
        EXPECT_EQ(s.offset, next);
        EXPECT_EQ(s.count, n / p + (static_cast<std::size_t>(i) < n % p ? 1 : 0));
        next += s.count;
      }
      EXPECT_EQ(next, n);
    }
}

TEST(AllgatherBytes, ConcatenatesInRankOrder) {
  run_threads(test::threads(5), [](Comm& c) {
    const std::int64_t mine[2] = {c.rank(), 100 + c.rank()};
    std::vector<std::int64_t> all(10);
    allgather_bytes(c.world(), std::as_bytes(std::span(mine)),
                    std::as_writable_bytes(std::span(all)));
    for (int r = 0; r < 5; ++r)
      if (all[2 * r] != r || all[2 * r + 1] != 100 + r) throw std::runtime_error("wrong order");
  });
}

TEST(Barrier, NoRankLeavesBeforeAllEntered) {
  for (int p : {1, 2, 3, 5, 8}) {
    std::atomic<int> entered{0};
    std::atomic<int> early{0};
    run_threads(test::threads(p), [&](Comm& c) {
      for (int round = 1; round <= 20; ++round) {
        entered.fetch_add(1);
        barrier(c.world());
        if (entered.load() < round * p) early.fetch_add(1);
        barrier(c.world());
      }
    });
    EXPECT_EQ(early.load(), 0) << "world " << p;
  }
}

}  // namespace
}  // namespace plait::comm
