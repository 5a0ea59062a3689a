// Data parallelism's balancing (docs/BALANCE.md), the run loop's BalanceHook for a
// Replica.
//
// After every step each rank's timing (compute, waiting, sequences) is allgathered
// over the data-parallel group, so every rank feeds the same samples in the same
// order to its own balance::Balancer and holds bit-identical costs; under --balance
// auto every K steps they all take the same new split (balance/rebalance.h), which
// the replica uses from the next step. The split is exact: gradients are sums over
// sequences divided once by the global batch, so only the order of float additions
// depends on it.
//
// Rank 0 logs each step's per-rank figures (metrics: rank_speed, rank_share,
// rank_compute_s, rank_wait_s; progress: shares, speeds and waiting) and says when
// and why it re-splits. A checkpoint keeps the shares and costs (state()), so a
// resumed run splits exactly as the uninterrupted one would have from there.
//
// Parameter-server workers (ps_worker.cpp) use it over the workers' own group: in
// sync mode exactly as above; in async and stale modes (--balance auto only) an
// allgather every step would be a barrier that defeats the staleness bound, so there
// each rank sums its timings over `exchange_every` (= --balance-every) steps and the
// ranks exchange the sums once per window.
//
// Test hook: PLAIT_TEST_BALANCE_COSTS=1 replaces each measured compute time by a
// deterministic one (a cost per sequence of 1 to 5 s that changes with step and
// rank), so tests get splits that change every step and repeat on resume.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

#include <nlohmann/json.hpp>

#include "balance/rebalance.h"
#include "comm/group.h"
#include "parallel/replica.h"
#include "parallel/run_loop.h"
#include "parallel/step_exchange.h"

namespace plait {

// What is balanced, as seen from one rank of `group`: the runner's share setter and
// its last step's timing. A unit is what takes one share: a replica of data
// parallelism or the parameter server (one rank each), or a tp x pp replica of the
// mesh (several ranks; its cost is its slowest rank's: the pipeline's wall time).
struct BalanceTarget {
  std::function<void(int64_t first, int64_t count)> set_share;
  std::function<StepTiming()> timing;  // this rank's last step
  std::function<int64_t()> seqs;       // this rank's unit's sequences in it (run)
  // Every unit's share, each time the split is set (work stealing plans with it); may be null.
  std::function<void(const std::vector<int64_t>&)> set_split;
  // Every unit's smoothed cost per sequence, after every step (stealing sizes its claims
  // by it: balance::claim_size); may be null.
  std::function<void(const std::vector<double>&)> set_costs;
  bool stealing = false;  // units claim sequences within a step: log what each ran
  // The replica's exchange of loss and timings after each step (step_exchange.h): when
  // it ran since the last after_step, its timings are used instead of an allgather.
  const StepExchange* exchange = nullptr;
  BalanceMode mode = BalanceMode::fixed;
  std::vector<int> unit_of;  // group rank -> unit (rank order); empty: unit = rank
};

// A Replica (data parallelism, parameter-server worker) as a target.
BalanceTarget replica_target(Replica& r);

class DpBalance final : public BalanceHook {
 public:
  // `shares`: the first step's split (dp_shares), one per unit; sets this rank's share.
  // `exchange_every`: steps per exchange of timings (1: every step).
  DpBalance(comm::Group group, BalanceTarget target, std::vector<int64_t> shares,
            balance::BalanceConfig cfg, int exchange_every = 1);
  // A resumed run: the checkpoint's extra (Replica::resumed_extra). Its shares and
  // costs are taken when it has them for this many ranks and this batch; otherwise
  // the start split stands (and results still agree within float addition order).
  void restore(const nlohmann::json& extra);

  void after_step(int64_t done, RunOutput* out) override;
  nlohmann::json state() const override;
  const balance::Balancer& balancer() const { return bal_; }

 private:
  void apply();  // the replica takes its share of bal_.shares()
  void report(const std::vector<balance::RankSample>& all, const std::vector<int64_t>& used,
              RunOutput& out);
  void hint(int64_t done, RunOutput& out);

  int unit(int rank) const { return t_.unit_of.empty() ? rank : t_.unit_of[rank]; }

  comm::Group group_;
  BalanceTarget t_;
  balance::Balancer bal_;
  int exchange_every_ = 1;
  double acc_[3] = {0, 0, 0};  // this rank's compute_s, wait_s, seqs since the last exchange
  int acc_steps_ = 0;
  bool fake_costs_ = false;
  bool warm_ = false;  // a step of this invocation has been run
  bool hinted_ = false;  // static mode: said once that auto would re-split
  std::int64_t exchanged_ = 0;  // t_.exchange->calls() at the last after_step
  std::chrono::steady_clock::time_point last_;
};

// The balancing options of a run: auto adjusts, static and off only measure.
balance::BalanceConfig balance_config(const TrainOptions& opt);

}  // namespace plait
