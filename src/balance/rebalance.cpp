#include "balance/rebalance.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "util/error.h"

namespace plait::balance {

double predicted_step_s(std::span<const int64_t> shares, std::span<const double> costs) {
  double worst = 0;
  for (size_t r = 0; r < shares.size() && r < costs.size(); ++r)
    worst = std::max(worst, static_cast<double>(shares[r]) * costs[r]);
  return worst;
}

std::vector<int64_t> fastest_split(int64_t total, std::span<const double> costs,
                                   int64_t min_share) {
  const auto n = static_cast<int64_t>(costs.size());
  if (n == 0) throw UsageError("cannot split a batch over 0 workers");
  for (double c : costs)
    if (!(c > 0)) throw UsageError("fastest_split: every cost must be positive");
  const int64_t floor = total >= min_share * n ? min_share : 0;
  std::vector<int64_t> shares(static_cast<size_t>(n), floor);
  for (int64_t left = total - floor * n; left > 0; --left) {
    size_t best = 0;
    for (size_t r = 1; r < shares.size(); ++r)
      if ((shares[r] + 1) * costs[r] < (shares[best] + 1) * costs[best]) best = r;
    ++shares[best];
  }
  return shares;
}

std::optional<Proposal> propose(std::span<const int64_t> current, std::span<const double> costs,
                                double threshold, int64_t granule) {
  if (current.size() != costs.size() || costs.empty()) return std::nullopt;
  for (double c : costs)
    if (!(c > 0)) return std::nullopt;
  const int64_t total = std::accumulate(current.begin(), current.end(), int64_t{0});
  Proposal p;
  if (granule > 1) {  // split whole granules, each costing granule x a sequence
    std::vector<double> unit(costs.begin(), costs.end());
    for (double& c : unit) c *= static_cast<double>(granule);
    p.shares = fastest_split(total / granule, unit);
    for (int64_t& x : p.shares) x *= granule;
  } else {
    p.shares = fastest_split(total, costs);
  }
  if (std::equal(p.shares.begin(), p.shares.end(), current.begin())) return std::nullopt;
  p.now_s = predicted_step_s(current, costs);
  p.then_s = predicted_step_s(p.shares, costs);
  if (!(p.gain() > threshold)) return std::nullopt;
  return p;
}

Balancer::Balancer(std::vector<int64_t> shares, BalanceConfig cfg)
    : cfg_(cfg), shares_(std::move(shares)),
      meter_(static_cast<int>(shares_.size()), cfg.smoothing) {
  if (cfg_.every < 1)
    throw UsageError("--balance-every must be positive, got " + std::to_string(cfg_.every));
  if (!(cfg_.threshold >= 0 && cfg_.threshold < 1))
    throw UsageError("--balance-threshold must be in [0, 1), got " +
                     std::to_string(cfg_.threshold));
}

std::optional<Proposal> Balancer::observe(int64_t done, std::span<const RankSample> samples) {
  for (size_t r = 0; r < samples.size() && r < shares_.size(); ++r)
    meter_.observe(static_cast<int>(r), samples[r].compute_s, samples[r].seqs);
  if (!cfg_.adjust || done % cfg_.every != 0) return std::nullopt;
  auto p = propose(shares_, meter_.costs(), cfg_.threshold, cfg_.granule);
  if (p) shares_ = p->shares;
  return p;
}

void Balancer::restore(std::span<const int64_t> shares, std::span<const double> costs) {
  if (shares.size() != shares_.size() || costs.size() != shares_.size()) return;
  for (int64_t s : shares)  // another pipeline's micro-batches: not a split of this run
    if (s < 0 || s % cfg_.granule != 0) return;
  if (std::accumulate(shares.begin(), shares.end(), int64_t{0}) !=
      std::accumulate(shares_.begin(), shares_.end(), int64_t{0}))
    return;
  shares_.assign(shares.begin(), shares.end());
  meter_.restore(costs);
}

}  // namespace plait::balance
