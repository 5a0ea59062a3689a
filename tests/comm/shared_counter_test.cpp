// The counter work stealing claims from (comm/shared_counter.h), on threads: every rank
// claims pieces of a range by compare-and-swap until it is gone (as WorkSteal does);
// the pieces cover the range exactly once and the counter stops at its end.
// (Under MPI the counter is exercised by cli_mpi_balance: plait train under mpirun.)
#include "comm/shared_counter.h"

#include <algorithm>
#include <atomic>

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

}  // namespace
}  // namespace plait::comm
