// Splitting a global batch of sequences across data-parallel workers.
//
// Shares are sequence counts, one per worker (rank order); they are never negative
// and always sum exactly to the total. Worker r takes the contiguous slice
// [starts[r], starts[r] + shares[r]) of the global batch's sequence indices, which
// the sampler (data/sampler.h) turns into the same sequences whatever the split.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace plait::balance {

// Equal shares: total / parts each, the remainder spread one apiece over the first
// ranks (10 over 4 -> 3 3 2 2). Throws UsageError when parts < 1 or total < 0.
std::vector<int64_t> split_equal(int64_t total, int parts);

// Shares proportional to `speeds` (sequences per second, or any relative weight) by
// the largest-remainder (Hamilton) method: each worker gets floor(total * s / sum),
// then the units left go to the largest fractional parts, ties to the lower rank.
// A worker of speed 0 gets 0. Throws UsageError when speeds is empty, a speed is
// negative or not finite, all speeds are 0, or total < 0.
std::vector<int64_t> split_proportional(int64_t total, std::span<const double> speeds);

// First sequence index of each share: the exclusive prefix sums of `shares`.
std::vector<int64_t> split_starts(std::span<const int64_t> shares);

}  // namespace plait::balance
