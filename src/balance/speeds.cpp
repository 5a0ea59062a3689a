#include "balance/speeds.h"

#include <algorithm>
#include <string>

#include "util/error.h"

namespace plait::balance {

SpeedMeter::SpeedMeter(int ranks, double weight)
    : weight_(weight), cost_(static_cast<size_t>(std::max(0, ranks)), 0.0) {
  if (!(weight > 0 && weight <= 1))
    throw UsageError("speed smoothing weight must be in (0, 1], got " + std::to_string(weight));
}

void SpeedMeter::observe(int rank, double compute_s, int64_t seqs) {
  if (seqs <= 0 || !(compute_s >= 0)) return;
  const double sample = compute_s / static_cast<double>(seqs);
  double& c = cost_.at(static_cast<size_t>(rank));
  c = c > 0 ? c + weight_ * (sample - c) : sample;
}

std::vector<double> SpeedMeter::speeds() const {
  std::vector<double> s(cost_.size());
  for (size_t r = 0; r < s.size(); ++r) s[r] = cost_[r] > 0 ? 1.0 / cost_[r] : 0.0;
  return s;
}

bool SpeedMeter::known() const {
  return std::all_of(cost_.begin(), cost_.end(), [](double c) { return c > 0; });
}

void SpeedMeter::restore(std::span<const double> costs) {
  if (costs.size() != cost_.size()) return;  // another world size: start afresh
  std::copy(costs.begin(), costs.end(), cost_.begin());
}

}  // namespace plait::balance
