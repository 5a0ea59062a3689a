#include "layout/stage_partition.h"

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <functional>
#include <limits>

#include "layout/stages.h"
#include "util/error.h"

namespace plait {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double at(const std::vector<double>& v, size_t s) { return v.empty() ? 0.0 : v[s]; }

double stage_bytes(const StageCosts& c, size_t s, int k) {
  return at(c.fixed_bytes, s) + k * at(c.block_bytes, s);
}

double stage_busy(const StageCosts& c, size_t s, int k) { return c.scale[s] * (k + c.extra[s]); }

// The partition of `layers` blocks over P stages (each >= 1) whose largest cost(s, k)
// is least; empty when every partition costs infinity. best[s][n]: the least largest
// cost of stages 0..s holding blocks 0..n-1; take[s][n]: the blocks stage s takes in it.
// For each stage the fewest blocks are tried first, so ties favour the earlier stages.
std::vector<int> least_max(int layers, int P, const std::function<double(size_t, int)>& cost) {
  std::vector<std::vector<double>> best(P, std::vector<double>(layers + 1, kInf));
  std::vector<std::vector<int>> take(P, std::vector<int>(layers + 1, 0));
  for (int n = 1; n <= layers; ++n) best[0][n] = cost(0, n), take[0][n] = n;
  for (int s = 1; s < P; ++s)
    for (int n = s + 1; n <= layers; ++n)
      for (int k = 1; k <= n - s; ++k) {
        const double v = std::max(best[s - 1][n - k], cost(static_cast<size_t>(s), k));
        if (v < best[s][n] - 1e-12 * std::max(1.0, std::abs(v))) best[s][n] = v, take[s][n] = k;
      }
  if (best[P - 1][layers] == kInf) return {};
  std::vector<int> sizes(P);
  for (int s = P - 1, n = layers; s >= 0; n -= sizes[s], --s) sizes[s] = take[s][n];
  return sizes;
}

std::string mib(double bytes) {
  char buf[48];
  const double m = bytes / (1024.0 * 1024.0);
  if (m >= 10240) std::snprintf(buf, sizeof buf, "%.1f GiB", m / 1024);
  else std::snprintf(buf, sizeof buf, "%.1f MiB", m);
  return buf;
}

void check_costs(int layers, const StageCosts& c) {
  const size_t P = c.scale.size();
  balance_stages(layers, static_cast<int>(P));  // 1 <= stages <= layers, the usual message
  auto agrees = [P](const std::vector<double>& v) { return v.empty() || v.size() == P; };
  if (c.extra.size() != P || !agrees(c.fixed_bytes) || !agrees(c.block_bytes))
    throw UsageError("stage partition: " + std::to_string(c.extra.size()) + " extras, " +
                     std::to_string(c.fixed_bytes.size()) + " and " +
                     std::to_string(c.block_bytes.size()) + " memory figures for " +
                     std::to_string(P) + " stages");
}

}  // namespace

double busiest_stage(const std::vector<int>& sizes, const StageCosts& c) {
  double b = 0;
  for (size_t s = 0; s < sizes.size(); ++s) b = std::max(b, stage_busy(c, s, sizes[s]));
  return b;
}

double peak_stage_bytes(const std::vector<int>& sizes, const StageCosts& c) {
  double b = 0;
  for (size_t s = 0; s < sizes.size(); ++s) b = std::max(b, stage_bytes(c, s, sizes[s]));
  return b;
}

StagePartition partition_stages(int layers, const StageCosts& c) {
  check_costs(layers, c);
  const int P = static_cast<int>(c.scale.size());
  StagePartition r;
  r.fastest = least_max(layers, P, [&](size_t s, int k) { return stage_busy(c, s, k); });
  r.fastest_busiest = busiest_stage(r.fastest, c);
  r.fastest_peak_bytes = peak_stage_bytes(r.fastest, c);
  const bool limited = c.limit_bytes > 0;
  r.sizes = !limited || r.fastest_peak_bytes <= c.limit_bytes
                ? r.fastest
                : least_max(layers, P, [&](size_t s, int k) {
                    return stage_bytes(c, s, k) <= c.limit_bytes ? stage_busy(c, s, k) : kInf;
                  });
  if (r.sizes.empty()) {
    const std::vector<int> least =
        least_max(layers, P, [&](size_t s, int k) { return stage_bytes(c, s, k); });
    size_t worst = 0;
    for (size_t s = 1; s < least.size(); ++s)
      if (stage_bytes(c, s, least[s]) > stage_bytes(c, worst, least[worst])) worst = s;
    throw UsageError("no split of " + std::to_string(layers) + " blocks into " +
                     std::to_string(P) + " pipeline stages fits " + mib(c.limit_bytes) +
                     " per stage; the one needing the least memory, " + stages_string(least) +
                     ", needs " + mib(peak_stage_bytes(least, c)) + " (stage " +
                     std::to_string(worst) + ")");
  }
  r.busiest = busiest_stage(r.sizes, c);
  r.peak_bytes = peak_stage_bytes(r.sizes, c);
  return r;
}

std::string stages_string(const std::vector<int>& sizes) {
  std::string s;
  for (int k : sizes) {
    if (!s.empty()) s += ',';
    s += std::to_string(k);
  }
  return s;
}

RepartitionAdvice advise_repartition(const std::vector<int>& sizes,
                                     const std::vector<double>& busy, StageCosts c) {
  const size_t P = sizes.size();
  if (busy.size() != P || (!c.extra.empty() && c.extra.size() != P))
    throw UsageError("repartition: " + std::to_string(busy.size()) + " busy times for " +
                     std::to_string(P) + " stages");
  if (c.extra.empty()) c.extra.assign(P, 0.0);
  int layers = 0;
  for (int k : sizes) layers += k;
  c.scale.resize(P);
  RepartitionAdvice a;
  for (size_t s = 0; s < P; ++s) {
    c.scale[s] = std::max(busy[s], 0.0) / (sizes[s] + c.extra[s]);
    a.measured = std::max(a.measured, busy[s]);
  }
  if (std::any_of(busy.begin(), busy.end(), [](double b) { return !(b > 0); })) {
    a.best = sizes, a.predicted = a.measured;  // a stage with no time: nothing to go on
    return a;
  }
  // The current partition stays feasible whatever the limit says: it runs now.
  if (c.limit_bytes > 0) c.limit_bytes = std::max(c.limit_bytes, peak_stage_bytes(sizes, c));
  const StagePartition p = partition_stages(layers, c);
  a.best = p.sizes;
  a.predicted = p.busiest;
  return a;
}

}  // namespace plait
