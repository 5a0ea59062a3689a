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

// C(n, k), saturating above `cap` (the count only decides exhaustive or not).
double choose_capped(int n, int k, double cap) {
  double r = 1;
  for (int i = 1; i <= k && r <= cap; ++i) r = r * (n - k + i) / i;
  return r;
}

// Orders candidate partitions: the shorter step, then the less busy stage; within a
// relative 1e-12 both are a tie (the earlier candidate stays).
bool better(double step, double busy, double best_step, double best_busy) {
  const double eps = 1e-12 * std::max(1.0, std::abs(best_step));
  if (step < best_step - eps) return true;
  return step <= best_step + eps && busy < best_busy - 1e-12 * std::max(1.0, std::abs(best_busy));
}

// The partition with the least simulated step among those `ok` accepts, from `start`
// (feasible, the least-busiest one): every partition when there are at most
// kExhaustivePartitions (the first stage's largest sizes first, so ties favour the
// earlier stages), else moves of one block across one boundary while one shortens it.
std::vector<int> least_step(int layers, const StageCosts& c, std::vector<int> start,
                            const std::function<bool(size_t, int)>& ok) {
  const int P = static_cast<int>(start.size());
  std::vector<int> best = start;
  double best_step = pipeline_step(best, c), best_busy = busiest_stage(best, c);
  auto consider = [&](const std::vector<int>& sizes) {
    for (size_t s = 0; s < sizes.size(); ++s)
      if (!ok(s, sizes[s])) return false;
    const double step = pipeline_step(sizes, c), busy = busiest_stage(sizes, c);
    if (!better(step, busy, best_step, best_busy)) return false;
    best = sizes, best_step = step, best_busy = busy;
    return true;
  };
  if (choose_capped(layers - 1, P - 1, kExhaustivePartitions) <= kExhaustivePartitions) {
    std::vector<int> sizes(P);
    std::function<void(int, int)> walk = [&](int s, int left) {
      if (s == P - 1) {
        sizes[s] = left;
        consider(sizes);
        return;
      }
      for (int k = left - (P - 1 - s); k >= 1; --k) sizes[s] = k, walk(s + 1, left - k);
    };
    walk(0, layers);
    return best;
  }
  for (bool moved = true; moved;) {
    moved = false;
    for (int s = 0; s + 1 < P && !moved; ++s)
      for (int dir : {1, -1}) {
        std::vector<int> next = best;
        next[s] += dir, next[s + 1] -= dir;
        if (next[s] >= 1 && next[s + 1] >= 1 && consider(next)) {
          moved = true;
          break;
        }
      }
  }
  return best;
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

double pipeline_step(const std::vector<int>& sizes, const StageCosts& c) {
  std::vector<double> f, b;
  for (size_t s = 0; s < sizes.size(); ++s) {
    const double t = stage_busy(c, s, sizes[s]);  // forward + backward, backward = 2 forward
    f.push_back(t / 3), b.push_back(2 * t / 3);
  }
  return simulate_pipeline(c.schedule, c.micro_batches, f, b).makespan;
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
  if (c.micro_batches > 0) {  // the least step, searched from the least busiest stage
    r.fastest = least_step(layers, c, r.fastest, [](size_t, int) { return true; });
    r.fastest_busiest = busiest_stage(r.fastest, c);
    r.fastest_peak_bytes = peak_stage_bytes(r.fastest, c);
    r.sizes = least_step(layers, c, r.sizes, [&](size_t s, int k) {
      return !limited || stage_bytes(c, s, k) <= c.limit_bytes;
    });
    r.step = pipeline_step(r.sizes, c);
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
  if (c.micro_batches > 0) {  // steps: busy[s] is a whole step's, M micro-batches' work
    a.measured = pipeline_step(sizes, c) / c.micro_batches;
    a.predicted = p.step / c.micro_batches;
  }
  return a;
}

}  // namespace plait
