#include "balance/steal.h"

#include <algorithm>
#include <cmath>
#include <limits>

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
                   double now, std::span<const double> free) {
  if (left <= 0) return 0;
  min_chunk = std::max<int64_t>(1, min_chunk);
  const auto units = static_cast<int64_t>(std::max<size_t>(1, costs.size()));
  const bool known = !costs.empty() && unit >= 0 && static_cast<size_t>(unit) < costs.size() &&
                     std::all_of(costs.begin(), costs.end(), [](double c) { return c > 0; });
  if (!known)
    return std::min(left, std::max(min_chunk, (left + 2 * units - 1) / (2 * units)));
  double all = 0;
  for (double c : costs) all += 1 / c;
  // The deal: every unit's finish time so far; pieces to the earliest finisher.
  std::vector<double> at(costs.size());
  for (size_t v = 0; v < costs.size(); ++v) {
    const double f = static_cast<int>(v) == unit || v >= free.size() || std::isnan(free[v])
                         ? now
                         : free[v];
    at[v] = std::max(f, now);
  }
  int64_t dealt = 0;
  for (int64_t rest = left; rest > 0;) {
    const int64_t piece = std::min(rest, min_chunk);
    const auto p = static_cast<double>(piece);
    size_t best = static_cast<size_t>(unit);
    double best_end = at[best] + p * costs[best];
    for (size_t v = 0; v < costs.size(); ++v) {
      if (std::isinf(at[v])) continue;  // claims no more
      const double end = at[v] + p * costs[v];
      if (end < best_end) best = v, best_end = end;
    }
    at[best] = best_end;
    if (static_cast<int>(best) == unit) dealt += piece;
    rest -= piece;
  }
  if (dealt == 0) return 0;
  const double mine = 1 / costs[unit];
  const auto part = static_cast<int64_t>(std::ceil(static_cast<double>(left) * mine / (2 * all)));
  return std::min({left, dealt, std::max(min_chunk, part)});
}

namespace {
constexpr int kMicroBits = 40;                           // microseconds: 12.7 days
constexpr int64_t kMicroMask = (int64_t{1} << kMicroBits) - 1;  // all ones: +inf
constexpr int64_t kTags = (int64_t{1} << (63 - kMicroBits)) - 1;  // tags 1 .. kTags
int64_t tag_of(int64_t step) { return (step % kTags + kTags) % kTags + 1; }
}  // namespace

int64_t board_entry(int64_t step, double free_s) {
  int64_t us = kMicroMask;
  if (!std::isinf(free_s) || free_s < 0) {
    const double v = std::max(0.0, std::round(free_s * 1e6));  // NaN: 0
    us = v >= static_cast<double>(kMicroMask - 1) ? kMicroMask - 1 : static_cast<int64_t>(v);
  }
  return tag_of(step) << kMicroBits | us;
}

double board_free(int64_t entry, int64_t step) {
  if (entry <= 0 || (entry >> kMicroBits) != tag_of(step))
    return std::numeric_limits<double>::quiet_NaN();
  const int64_t us = entry & kMicroMask;
  return us == kMicroMask ? std::numeric_limits<double>::infinity()
                          : static_cast<double>(us) * 1e-6;
}

}  // namespace plait::balance
