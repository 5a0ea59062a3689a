#include "parallel/dp_steal.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <thread>

namespace plait {

WorkSteal::WorkSteal(comm::Group& group, int64_t min_chunk, int64_t micro_batch, double band)
    : unit_(group.rank()),
      units_(group.size()),
      min_chunk_(min_chunk),
      micro_batch_(micro_batch),
      band_(band) {
  const char* env = std::getenv("PLAIT_TEST_STEAL_ORDER");
  fixed_ = env != nullptr && std::string(env) == "1";
  // collective, also under the hook; the board: one free time per unit
  counter_ = comm::make_shared_counter(group, units_);
  const unsigned cores = std::thread::hardware_concurrency();
  shared_cores_ = cores > 0 && group.local_size() > static_cast<int>(cores);
  board_.resize(static_cast<size_t>(units_));
  free_.resize(static_cast<size_t>(units_));
}

void WorkSteal::begin_step(int64_t step) {
  step_ = step;
  began_ = Clock::now();
  plan_ = balance::steal_plan(
      shares_, balance::pool_fraction(shares_, costs_, band_, kPoolFraction), min_chunk_);
  base_ = seen_ = next_base_;
  next_base_ = base_ + plan_.pool;
  own_ = {plan_.own_first.at(unit_), plan_.own.at(unit_)};
  held_ = {};
  pool_empty_ = false;
  fixed_k_ = 0;
}

balance::SeqRange WorkSteal::claim() {
  if (pool_empty_) return {};
  if (fixed_) {
    const auto n = static_cast<int64_t>(plan_.chunks.size());
    for (; fixed_k_ < n; ++fixed_k_) {
      const int64_t k = fixed_k_;
      if ((7 * step_ + 3 * k + step_ * k) % units_ == unit_) {
        ++fixed_k_;
        return plan_.chunk(k);
      }
    }
    pool_empty_ = true;
    return {};
  }
  // From the value last seen (a guess: another rank may have claimed since): a claim
  // succeeds when the counter still holds it, else the swap tells the current value.
  const bool known = costs_.size() == static_cast<size_t>(units_) &&
                     std::all_of(costs_.begin(), costs_.end(), [](double c) { return c > 0; });
  const double now = std::chrono::duration<double>(Clock::now() - began_).count();
  for (int64_t at = seen_;;) {
    const int64_t left = plan_.pool - (at - base_);
    if (left > 0 && known) read_board();
    const int64_t n =
        left > 0 ? balance::claim_size(left, unit_, costs_, min_chunk_, now, free_) : 0;
    if (n == 0) break;
    const int64_t was = counter_->compare_and_swap(at, at + n);
    if (was == at) {
      seen_ = at + n;
      if (known)
        counter_->store(unit_, balance::board_entry(
                                   step_, now + static_cast<double>(n) * costs_[unit_]));
      return {plan_.pool_first + (at - base_), n};
    }
    at = seen_ = was;
  }
  pool_empty_ = true;
  if (known)
    counter_->store(unit_, balance::board_entry(step_, std::numeric_limits<double>::infinity()));
  return {};
}

// When each unit expects to be free this step: its board entry, or, before it wrote one
// this step, the end of its own part at its cost from the step's start.
void WorkSteal::read_board() {
  counter_->load(board_);
  for (int v = 0; v < units_; ++v) {
    const double f = balance::board_free(board_[v], step_);
    free_[v] = std::isnan(f) ? static_cast<double>(plan_.own[v]) * costs_[v] : f;
  }
}

balance::SeqRange WorkSteal::next() {
  // The own part first, in micro-batches (whole when --micro-batch is 0).
  if (own_.count == 0 && held_.count == 0) {
    held_ = claim();
    if (held_.count == 0) return {};
  }
  balance::SeqRange& src = own_.count > 0 ? own_ : held_;
  // --micro-batch 0: whole passes, except in a step with a pool while the group's ranks
  // outnumber this machine's cores: then passes of one sequence, so that a rank waiting
  // for a core (the third to wake after the step exchange) gets one a pass sooner.
  const int64_t mb = micro_batch_ > 0 ? micro_batch_ : (shared_cores_ && plan_.pool > 0 ? 1 : 0);
  const int64_t b = mb > 0 ? std::min(mb, src.count) : src.count;
  const balance::SeqRange piece{src.first, b};
  src.first += b;
  src.count -= b;
  return piece;
}

}  // namespace plait
