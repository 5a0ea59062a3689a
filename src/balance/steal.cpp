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
  p.pool = pool;
  const auto units = static_cast<int64_t>(std::max<size_t>(1, shares.size()));
  for (int64_t left = pool; left > 0;) {
    const int64_t c = std::min(left, std::max(min_chunk, (left + 2 * units - 1) / (2 * units)));
    p.chunks.push_back(c);
    left -= c;
  }
  return p;
}

double pool_fraction(std::span<const int64_t> shares, std::span<const double> costs,
                     double band, double fraction) {
  if (shares.size() <= 1) return 0;
  if (costs.size() != shares.size() ||
      !std::all_of(costs.begin(), costs.end(), [](double c) { return c > 0; }))
    return fraction;
  const auto [lo, hi] = std::minmax_element(costs.begin(), costs.end());
  if (*hi > (1 + band) * *lo) return fraction;
  double first = -1, last = -1;  // least and greatest predicted compute of a unit with a share
  for (size_t r = 0; r < shares.size(); ++r) {
    if (shares[r] <= 0) continue;
    const double t = static_cast<double>(shares[r]) * costs[r];
    first = first < 0 ? t : std::min(first, t);
    last = std::max(last, t);
  }
  return last > (1 + band) * first ? fraction : 0;
}

int64_t claim_size(int64_t left, int unit, std::span<const double> costs, int64_t min_chunk,
                   double pending) {
  if (left <= 0) return 0;
  const auto units = static_cast<int64_t>(std::max<size_t>(1, costs.size()));
  const bool known = !costs.empty() && unit >= 0 && static_cast<size_t>(unit) < costs.size() &&
                     std::all_of(costs.begin(), costs.end(), [](double c) { return c > 0; });
  if (!known)
    return std::min(left, std::max(min_chunk, (left + 2 * units - 1) / (2 * units)));
  double all = 0, others = 0;
  size_t fastest = 0;
  for (size_t r = 0; r < costs.size(); ++r) {
    all += 1 / costs[r];
    if (static_cast<int>(r) != unit) others += 1 / costs[r];
    if (costs[r] < costs[fastest]) fastest = r;
  }
  const double mine = 1 / costs[unit];
  const auto part = static_cast<int64_t>(std::ceil(static_cast<double>(left) * mine / (2 * all)));
  const int64_t n = std::min(left, std::max(min_chunk, part));
  if (static_cast<size_t>(unit) == fastest) return n;
  const double others_done = (static_cast<double>(left) + std::max(0.0, pending)) / others;
  return static_cast<double>(n) * costs[unit] > others_done ? 0 : n;
}

double own_left(const StealPlan& plan, std::span<const double> costs, int unit, double elapsed) {
  if (costs.size() != plan.own.size() ||
      !std::all_of(costs.begin(), costs.end(), [](double c) { return c > 0; }))
    return 0;
  double left = 0;
  for (size_t r = 0; r < costs.size(); ++r)
    if (static_cast<int>(r) != unit)
      left += std::max(0.0, static_cast<double>(plan.own[r]) - std::max(0.0, elapsed) / costs[r]);
  return left;
}

}  // namespace plait::balance
