// Work stealing within a step for data-parallel replicas (--balance auto; docs/BALANCE.md
// "Balancing within a step"): the micro-batches a Replica runs in a step.
//
// Each step follows balance::steal_plan of the current split (DpBalance hands it every
// new one, and the measured costs after every step), with a pool of kPoolFraction of
// every share, or none while the units' costs agree within `band`
// (balance::pool_fraction: the step then runs as under --balance off). The rank runs its
// own part first (in micro-batches of --micro-batch, or in one when 0), then claims
// sequences from the pool's front, balance::claim_size() at a time, through a counter
// shared by the group (comm/shared_counter.h), until the pool is empty or the rest is
// better left to the others: an earliest-finish deal of the rest, given when each unit
// expects to be free, gives this rank nothing. Each rank publishes that time on a board
// beside the counter (one slot per unit: the time into its step at which it will have
// run what it claimed; +inf once it claims no more; before it claims, the others take
// the end of its own part at its cost); a claim larger than --micro-batch runs in
// pieces of it. A rank that stalls thus leaves the pool to the others, and the step ends
// when the last claim does, not when the slowest rank's whole share does. The board
// only steers who runs what: a unit of the least cost never declines, so the pool
// empties whatever the board says.
//
// The counter holds the pool sequences claimed so far, never reset: a claim is a
// compare-and-swap from the value the rank last saw to that plus its claim, made only
// while sequences are left, so each step moves it by exactly the pool's size and every
// rank knows where the next step's pool begins. No rank can claim for step t + 1 before
// every claim of step t: it leaves step t only when the gradient reduction has every
// rank's sums, which each rank hands over after its last claim.
//
// Test hook: PLAIT_TEST_STEAL_ORDER=1 replaces the counter by a fixed assignment (the
// plan's pool chunk k of step t goes to unit (7t + 3k + tk) mod units): every run, and
// a resumed one, then runs the same sequences on the same ranks in the same order.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "balance/steal.h"
#include "comm/group.h"
#include "comm/shared_counter.h"

namespace plait {

class WorkSteal {
 public:
  // Of every share, claimed in chunks. Half (was a quarter until 2026-12-02): a rank
  // that starts its step late (three ranks on two cores: the third to wake waits ~2 ms
  // for a core) can only be helped with the pool, not with its own part; 3 workers at
  // 1, 0.6, 0.3 reached 0.86 of the ideal with half, 0.83 with a quarter, 0.85 with
  // three quarters or all (docs/BALANCE.md).
  static constexpr double kPoolFraction = 0.5;

  // Collective over `group` (its ranks are the units); see usable(). min_chunk: the smallest pool
  // chunk; micro_batch: --micro-batch (0: own part in one pass, chunks whole); band: no pool
  // while the units' costs agree within it (--balance-threshold; balance::pool_fraction).
  WorkSteal(comm::Group& group, int64_t min_chunk, int64_t micro_batch, double band);

  // The split of the coming steps (identical on every rank).
  void set_shares(const std::vector<int64_t>& shares) { shares_ = shares; }
  // Every unit's measured cost per sequence (seconds; 0 = unknown), for claim_size.
  void set_costs(const std::vector<double>& costs) { costs_ = costs; }
  // A step begins (the step's index, for the test hook).
  void begin_step(int64_t step);
  // This rank's next micro-batch of the step; count 0 when nothing is left for it.
  balance::SeqRange next();
  // The step's pool begins at this sequence index (the own parts lie before it).
  int64_t pool_first() const { return plan_.pool_first; }
  // Whether the counter is the test hook's fixed assignment.
  bool fixed_order() const { return fixed_; }
  // False (on every rank alike) when the group has no shared counter
  // (comm::make_shared_counter gave none): the caller then runs without stealing.
  bool usable() const { return counter_ != nullptr || fixed_; }

 private:
  balance::SeqRange claim();  // this rank's next pool claim (count 0: none for it)
  void read_board();          // free_ from the board (counter_'s slots)

  int unit_ = 0, units_ = 1;
  int64_t min_chunk_ = 1, micro_batch_ = 0;
  bool shared_cores_ = false;  // more ranks of the group on this machine than cores
  double band_ = 0;
  std::vector<int64_t> shares_;
  std::vector<double> costs_;
  std::unique_ptr<comm::SharedCounter> counter_;
  bool fixed_ = false;
  balance::StealPlan plan_;
  int64_t step_ = 0;
  using Clock = std::chrono::steady_clock;
  Clock::time_point began_;  // begin_step: the step's times (the board's) count from it
  int64_t base_ = 0, next_base_ = 0;  // counter values: this step's pool start, the next's
  int64_t seen_ = 0;                  // the counter's value as this rank last saw it
  balance::SeqRange own_, held_;      // what is left of the own part, of the claimed chunk
  bool pool_empty_ = false;           // this rank claims nothing more this step
  int64_t fixed_k_ = 0;               // test hook: the next pool chunk to look at
  std::vector<int64_t> board_;        // the board's entries as last read
  std::vector<double> free_;          // per unit: when it expects to be free (s into the step)
};

}  // namespace plait
