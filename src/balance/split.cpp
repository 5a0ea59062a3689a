#include "balance/split.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "util/error.h"

namespace plait::balance {

std::vector<int64_t> split_equal(int64_t total, int parts) {
  if (parts < 1)
    throw UsageError("cannot split a batch over " + std::to_string(parts) +
                     " workers (need at least 1)");
  if (total < 0) throw UsageError("cannot split a negative batch (" + std::to_string(total) + ")");
  std::vector<int64_t> shares(static_cast<size_t>(parts), total / parts);
  for (int64_t r = 0; r < total % parts; ++r) ++shares[static_cast<size_t>(r)];
  return shares;
}

namespace {

void check_speeds(std::span<const double> speeds, int64_t total) {
  if (speeds.empty()) throw UsageError("cannot split a batch over 0 workers (no speeds given)");
  if (total < 0) throw UsageError("cannot split a negative batch (" + std::to_string(total) + ")");
  double sum = 0;
  for (size_t r = 0; r < speeds.size(); ++r) {
    if (!std::isfinite(speeds[r]) || speeds[r] < 0)
      throw UsageError("speed of worker " + std::to_string(r) + " is " + std::to_string(speeds[r]) +
                       "; speeds must be finite and >= 0");
    sum += speeds[r];
  }
  if (!(sum > 0)) throw UsageError("every worker's speed is 0; cannot split the batch");
}

}  // namespace

std::vector<int64_t> split_proportional(int64_t total, std::span<const double> speeds) {
  check_speeds(speeds, total);
  const size_t n = speeds.size();
  const long double sum = std::accumulate(speeds.begin(), speeds.end(), 0.0L);
  std::vector<int64_t> shares(n);
  std::vector<long double> rest(n);  // fractional part of each exact quota
  int64_t given = 0;
  for (size_t r = 0; r < n; ++r) {
    long double quota = static_cast<long double>(total) * speeds[r] / sum;
    shares[r] = static_cast<int64_t>(std::floor(quota));
    rest[r] = quota - static_cast<long double>(shares[r]);
    given += shares[r];
  }
  // Ranks with a positive speed, largest remainder first, ties to the lower rank.
  std::vector<size_t> order;
  for (size_t r = 0; r < n; ++r)
    if (speeds[r] > 0) order.push_back(r);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return rest[a] > rest[b]; });
  // Exactly, 0 <= total - given < order.size(); rounding can push it a unit either
  // way, so hand out (or take back, smallest remainder first) until the sum is exact.
  for (size_t i = 0; given < total; i = (i + 1) % order.size(), ++given) ++shares[order[i]];
  for (size_t i = order.size(); given > total; --given) {
    do i = (i + order.size() - 1) % order.size();
    while (shares[order[i]] == 0);
    --shares[order[i]];
  }
  return shares;
}

std::vector<int64_t> split_starts(std::span<const int64_t> shares) {
  std::vector<int64_t> starts(shares.size());
  int64_t at = 0;
  for (size_t r = 0; r < shares.size(); ++r) {
    starts[r] = at;
    at += shares[r];
  }
  return starts;
}

}  // namespace plait::balance
