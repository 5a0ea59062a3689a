// Work stealing within a step (docs/BALANCE.md "Balancing within a step"): the plan of
// one step's sequences under --balance auto.
//
// The split by measured speed (rebalance.h) predicts each rank's compute; within a
// step the ranks still scatter (a rank stalls, the scheduler hands a shared core to
// someone else), and the step waits for the slowest. So a fraction of every share goes
// into a pool that the ranks claim from, chunk by chunk, as they finish:
//
//   sequence index of the global batch:  0 ............ pool_first ........ batch
//                                        | own 0 | own 1 | ... | pool chunks  |
//
// Unit r first runs its own part [own_first[r], own_first[r] + own[r]): its share
// minus floor(share x pool_fraction); the rest of every share makes the pool. Then it
// claims from the pool's front, as it finishes, claim_size() sequences at a time
// (heterogeneous guided self-scheduling: a unit's part, by its speed, of half of what is
// left, so the first claims are large and the last ones small), through a counter
// shared by the group (parallel/dp_steal.h); a unit that would finish a claim later
// than the others would finish the whole rest (their own parts' remainder included)
// leaves it to them. Which rank runs a
// sequence changes only the order of float additions (gradients are sums over
// sequences divided once by the batch).
//
// `chunks` is the pool cut by the same rule for identical units (ceil(left / (2 x
// units)), at least min_chunk): the fixed assignment of the test hook hands those out.
//
// Pure functions of their arguments: every rank computes the same plan from the same
// (allgathered) shares.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace plait::balance {

struct SeqRange {
  int64_t first = 0, count = 0;  // count 0: nothing
};

struct StealPlan {
  std::vector<int64_t> own_first, own;  // per unit
  int64_t pool_first = 0;               // the pool: [pool_first, total)
  std::vector<int64_t> chunks;          // the pool's chunk sizes in claim order

  int64_t pool = 0;                     // its sequences

  // Chunk k of the pool (nothing past the last).
  SeqRange chunk(int64_t k) const;
};

// shares: the split (one per unit, rank order); pool_fraction in [0, 1]; min_chunk >= 1.
StealPlan steal_plan(std::span<const int64_t> shares, double pool_fraction, int64_t min_chunk);

// The pool fraction of a step: `fraction`, or 0 (no pool: every sequence in its unit's
// own part, as under --balance off) when every cost is known (> 0) and the units
// agree within `band` (the rebalancing threshold, so noise inside it toggles nothing):
//   max cost <= (1 + band) x min cost   (the speeds agree), and
//   max shares[r] x costs[r] <= (1 + band) x min of it over units with a share
//                                         (the split's predicted compute times agree).
// Ranks of one speed on an even split finish together, and the pool would only add its
// small passes and a tail of up to a sequence; once speeds differ (a mid-run slowdown)
// the pool is back the next step. Units with no share count only through their speed.
// One unit, or none: 0 (nobody to steal from). Costs and shares are identical on every
// rank (allgathered), so every rank plans the same pool.
double pool_fraction(std::span<const int64_t> shares, std::span<const double> costs,
                     double band, double fraction);

// How many of the `left` unclaimed pool sequences unit `unit` claims, given every
// unit's cost per sequence (`costs`, seconds; 0 = unknown) and `pending`, the sequences
// the other units still have to run of their own parts before they claim (an estimate,
// own_left below):
//   n = ceil(left x speed / (2 x the sum of the speeds)), at least min_chunk, at most left
// (speed = 1 / cost); and 0, leaving the rest to the others, when those n would take it
// longer than the others, all claiming once their own parts are done, take for
// everything left:
//   n x cost > (left + pending) / (the sum of the other units' speeds).
// A slow unit therefore takes small pieces early and none at the tail, where one of
// its sequences would hold the whole step. The fastest unit (least cost, ties to the
// lower) never declines, so the pool always empties. With a cost unknown, every unit
// claims ceil(left / (2 x units)) (at least min_chunk) and none declines.
int64_t claim_size(int64_t left, int unit, std::span<const double> costs, int64_t min_chunk,
                   double pending = 0);

// The sequences of their own parts that the units other than `unit` still have to run
// `elapsed` seconds into the step, if each runs its own part at its cost from the
// step's start: the sum over the others of max(0, own - elapsed / cost). 0 when a cost
// is unknown. (Without it a slow unit that finished its own part early compared its
// claim with the pool alone, as if the others were idle, and left them work it could
// have done while they were still busy.)
double own_left(const StealPlan& plan, std::span<const double> costs, int unit, double elapsed);

}  // namespace plait::balance
