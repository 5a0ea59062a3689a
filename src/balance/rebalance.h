// The rebalancing rule: re-split the global batch in proportion to measured speed, but
// only when the predicted gain is worth it (hysteresis), identically on every rank.
//
// A split's predicted compute time is that of its slowest rank, max_r shares[r] x
// costs[r] (costs: seconds per sequence, speeds.h). fastest_split() minimises it over
// integer splits: every rank first gets `min_share` sequences, then each further
// sequence goes to the rank that would finish it earliest ((shares[r] + 1) x costs[r],
// ties to the lower rank) - greedy, which is optimal for identical jobs on machines of
// different speeds, and in the limit is the split proportional to speed.
//
// Hysteresis: the new split is taken only when it predicts a step at least
// `threshold` (a fraction) faster than the current split under the same costs. Noise
// of a few percent in the costs therefore moves nothing; integer shares add their own
// dead band (moving one sequence must pay for itself).
//
// Pure functions of their arguments: ranks that hold the same costs (allgathered)
// compute the same split bit for bit, which exactness and resume rely on.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "balance/speeds.h"

namespace plait::balance {

double predicted_step_s(std::span<const int64_t> shares, std::span<const double> costs);

// Every cost must be > 0. min_share applies only if total >= min_share x ranks.
std::vector<int64_t> fastest_split(int64_t total, std::span<const double> costs,
                                   int64_t min_share = 1);

struct Proposal {
  std::vector<int64_t> shares;
  double now_s = 0;   // predicted compute time of the current split
  double then_s = 0;  // of the proposed one
  double gain() const { return now_s > 0 ? 1.0 - then_s / now_s : 0.0; }
};

// The fastest split when it differs from `current` and gains more than `threshold`;
// nullopt otherwise, or while a cost is unknown (0). Shares move in whole `granule`s
// (a pipeline's micro-batches): every share of `current` and of the result is a
// multiple of it.
std::optional<Proposal> propose(std::span<const int64_t> current, std::span<const double> costs,
                                double threshold, int64_t granule = 1);

struct BalanceConfig {
  bool adjust = true;       // false: measure only (--balance static or off)
  int every = 5;            // consider a new split after every K steps
  double threshold = 0.1;   // minimum predicted gain
  double smoothing = 0.3;   // EMA weight of the newest sample
  int64_t granule = 1;      // shares are multiples of this (propose)
};

struct RankSample {
  double compute_s = 0;  // forward+backward wall time (with any slowdown)
  double wait_s = 0;     // waiting for other ranks (gradient and loss reduction)
  int64_t seqs = 0;      // sequences run
};

// The balancing state every rank holds identically: the current shares and costs.
class Balancer {
 public:
  Balancer(std::vector<int64_t> shares, BalanceConfig cfg);
  // Every rank's sample of the step that made `done` steps (rank order, identical on
  // every rank). Returns the proposal taken (shares() holds it from now on), if any.
  std::optional<Proposal> observe(int64_t done, std::span<const RankSample> samples);
  const std::vector<int64_t>& shares() const { return shares_; }
  const SpeedMeter& meter() const { return meter_; }
  const BalanceConfig& config() const { return cfg_; }
  // A checkpoint's state; ignored (the current state kept) when its rank count or total
  // differs or a share is not a multiple of the granule.
  void restore(std::span<const int64_t> shares, std::span<const double> costs);

 private:
  BalanceConfig cfg_;
  std::vector<int64_t> shares_;
  SpeedMeter meter_;
};

}  // namespace plait::balance
