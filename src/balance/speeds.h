// Measured speeds: each rank's compute time per sequence, smoothed.
//
// A sample is one step of one rank: the wall time of its forward+backward passes
// (including an emulated --slowdown, excluding every wait for other ranks: the
// gradient reduction, the loss sum) and the sequences it ran. The cost of a rank is
// an exponential moving average of compute_s / seqs: the first sample sets it, each
// later one moves it by `weight` of the difference. A step with no sequences is no
// sample (the cost stays what it was). Speed = 1 / cost, in sequences per second.
//
// Every rank feeds the same samples (allgathered) in the same order, so every rank
// holds bit-identical costs and decides the same splits (rebalance.h).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace plait::balance {

class SpeedMeter {
 public:
  SpeedMeter(int ranks, double weight);

  void observe(int rank, double compute_s, int64_t seqs);
  // Seconds per sequence; 0 while the rank has no sample.
  const std::vector<double>& costs() const { return cost_; }
  // Sequences per second (0 while unknown).
  std::vector<double> speeds() const;
  // Every rank has at least one sample.
  bool known() const;
  // The state of a checkpoint (costs as saved; 0 = unknown).
  void restore(std::span<const double> costs);

 private:
  double weight_;
  std::vector<double> cost_;
};

}  // namespace plait::balance
