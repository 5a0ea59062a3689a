#include "balance/steal.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace plait::balance {

SeqRange StealPlan::chunk(int64_t k) const {
  if (k < 0 || k >= static_cast<int64_t>(chunks.size())) return {};
  int64_t first = pool_first;
  for (int64_t i = 0; i < k; ++i) first += chunks[i];
  return {first, chunks[k]};
}

StealPlan steal_plan(std::span<const int64_t> shares, double pool_fraction, int64_t min_chunk) {
  if (!(pool_fraction >= 0 && pool_fraction <= 1))
    throw UsageError("steal_plan: the pool fraction must be in [0, 1]");
  if (min_chunk < 1) throw UsageError("steal_plan: the smallest chunk must be >= 1 sequence");
  StealPlan p;
  int64_t pool = 0;
  for (int64_t s : shares) {
    if (s < 0) throw UsageError("steal_plan: a share is negative");
    const auto given = static_cast<int64_t>(std::floor(static_cast<double>(s) * pool_fraction));
    p.own_first.push_back(p.pool_first);
    p.own.push_back(s - given);
    p.pool_first += s - given;
    pool += given;
  }
  const auto units = static_cast<int64_t>(std::max<size_t>(1, shares.size()));
  for (int64_t left = pool; left > 0;) {
    const int64_t c = std::min(left, std::max(min_chunk, (left + 2 * units - 1) / (2 * units)));
    p.chunks.push_back(c);
    left -= c;
  }
  return p;
}

}  // namespace plait::balance
