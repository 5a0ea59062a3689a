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
// shared by the group (parallel/dp_steal.h); a unit claims only what an
// earliest-finish deal of the rest would give it, given when each of the others
// expects to be free (a board beside the counter), and leaves the rest to them.
// Which rank runs a
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

// How many of the `left` unclaimed pool sequences unit `unit` claims `now` seconds into
// its step, given every unit's cost per sequence (`costs`, seconds; 0 = unknown) and
// when each of the other units expects to be free (`free`, seconds into the step: the
// end of its own part, or of the claim it runs; +inf: it claims nothing more this step;
// a time before `now` counts as now; the claimant's own entry is not read).
//
// Earliest-finish list scheduling of whole sequences: the `left` sequences are dealt in
// pieces of min_chunk (the last one smaller), each to the unit that would finish it
// first, max(free, now) + piece x cost (the claimant is free now; ties go to the
// claimant, then to the lower unit). If the deal gives the claimant nothing, it takes 0
// and leaves the rest to the others (it would finish even its first piece later than
// someone else would); otherwise it takes
//   n = ceil(left x speed / (2 x the sum of the speeds)), at least min_chunk, at most
//       what the deal gives it (and at most left)
// (speed = 1 / cost: guided self-scheduling, large claims first and small ones at the
// end). Unlike a fluid estimate of the others' remaining work, the deal sees what each
// of the others already holds and that a sequence is whole: a slow unit claims while
// the others are busy with their claims, and leaves the tail, where one of its
// sequences would hold the step, to whoever finishes it first. A unit of the least
// cost is dealt the first piece (no other finishes it sooner), so it never declines and
// the pool always empties. With a cost unknown, every unit claims ceil(left / (2 x
// units)) (at least min_chunk) and none declines. `free` shorter than `costs`: the
// missing units count as free now.
int64_t claim_size(int64_t left, int unit, std::span<const double> costs, int64_t min_chunk,
                   double now, std::span<const double> free);

// The claim board (parallel/dp_steal.h): one int64 per unit beside the shared counter,
// the time (seconds into the step, in whole microseconds) at which the unit expects to
// be free, tagged with the step so that an entry left from an earlier step reads as
// absent. free_s +inf: it claims no more this step; negative counts as 0.
int64_t board_entry(int64_t step, double free_s);
// The free time an entry says for step `step`: NaN when it is of another step or was
// never written (0), +inf when its unit claims no more.
double board_free(int64_t entry, int64_t step);

}  // namespace plait::balance
