// The counter work stealing claims from (comm/shared_counter.h), on threads: every rank
// claims pieces of a range by compare-and-swap until it is gone (as WorkSteal does);
// the pieces cover the range exactly once and the counter stops at its end.
// (Under MPI the counter is exercised by cli_mpi_balance: plait train under mpirun.)
#include "comm/shared_counter.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "util/error.h"

#include "comm_helpers.h"

namespace plait::comm {
namespace {

using test::Findings;

TEST(SharedCounter, CompareAndSwapClaimsCoverARangeOnce) {
  constexpr int64_t kRange = 5000;
  for (int world : {1, 2, 3, 5}) {
    std::vector<std::atomic<int>> taken(kRange);
    std::atomic<int64_t> total{0};
    Findings wrong;
    run_threads(test::threads(world), [&](Comm& c) {
      auto counter = make_shared_counter(c.world());
      if (!counter) return wrong.add("no counter");
      int64_t mine = 0;
      for (int64_t at = 0; at < kRange;) {  // pieces of rank + 1, the last one cut
        const int64_t n = std::min<int64_t>(kRange - at, c.rank() + 1);
        const int64_t was = counter->compare_and_swap(at, at + n);
        if (was != at) {
          at = was;
          continue;
        }
        for (int64_t i = at; i < at + n; ++i) taken[i].fetch_add(1);
        mine += n;
        at += n;
      }
      total += mine;
      barrier(c.world());
      if (counter->fetch_add(0) != kRange) wrong.add("the counter went past the range");
      barrier(c.world());
      counter->fetch_add(1);
      barrier(c.world());
      if (counter->fetch_add(0) != kRange + world) wrong.add("fetch_add lost an add");
      barrier(c.world());  // every rank has read before any destroys its handle
    });
    for (const std::string& w : wrong.items()) ADD_FAILURE() << w << " (world " << world << ")";
    EXPECT_EQ(total.load(), kRange) << "world " << world;
    for (int64_t i = 0; i < kRange; ++i) ASSERT_EQ(taken[i].load(), 1) << "index " << i;
  }
}

// The board beside the counter: each rank stores into its own slot while the others
// read every slot; a read sees 0 or a value its slot's rank stored, never a torn one,
// each slot's values never go backwards for one reader, and after a barrier every rank
// reads every rank's last value.
TEST(SharedCounter, BoardSlotsHoldEachRanksLastStore) {
  constexpr int64_t kStores = 2000;
  for (int world : {1, 2, 3}) {
    Findings wrong;
    run_threads(test::threads(world), [&](Comm& c) {
      auto counter = make_shared_counter(c.world(), world);
      if (!counter) return wrong.add("no counter");
      if (counter->slots() != world) wrong.add("slots");
      std::vector<int64_t> seen(static_cast<size_t>(world)), last(static_cast<size_t>(world), 0);
      const auto base = (int64_t{c.rank()} + 1) << 40;  // high bits, as the board's tags
      for (int64_t i = 1; i <= kStores; ++i) {
        counter->store(c.rank(), base | i);
        counter->load(seen);
        for (int r = 0; r < world; ++r) {
          const int64_t v = seen[static_cast<size_t>(r)];
          if (v == 0) continue;
          if ((v >> 40) != r + 1 || (v & 0xffffff) < 1 || (v & 0xffffff) > kStores)
            return wrong.add("slot " + std::to_string(r) + " read " + std::to_string(v));
          if (v < last[static_cast<size_t>(r)])
            return wrong.add("slot " + std::to_string(r) + " went backwards");
          last[static_cast<size_t>(r)] = v;
        }
      }
      barrier(c.world());
      counter->load(seen);
      for (int r = 0; r < world; ++r)
        if (seen[static_cast<size_t>(r)] != (((int64_t{r} + 1) << 40) | kStores))
          wrong.add("slot " + std::to_string(r) + " after the barrier");
      if (counter->fetch_add(0) != 0) wrong.add("the board moved the counter");
      try {
        counter->store(world, 1);
        wrong.add("a slot past the board was stored");
      } catch (const UsageError&) {
      }
      barrier(c.world());
    });
    for (const std::string& w : wrong.items()) ADD_FAILURE() << w << " (world " << world << ")";
  }
}

}  // namespace
}  // namespace plait::comm
