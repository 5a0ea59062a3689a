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
// minus floor(share x pool_fraction); the rest of every share makes the pool, cut into
// `chunks` (guided self-scheduling: each chunk is ceil(left / (2 x units)) sequences,
// at least min_chunk, so the first claims are large and the last ones small). Claim k
// of a step (0-based, in the order a shared counter hands them out) is chunk k; claims
// past the last chunk get nothing. Which rank runs a sequence changes only the order
// of float additions (gradients are sums over sequences divided once by the batch).
//
// Every rank claims until it gets nothing, exactly once, so a step consumes exactly
// claims_per_step() values of a counter that is never reset: every rank knows where
// the next step's claims begin without another exchange.
//
// A pure function of its arguments: every rank computes the same plan from the same
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

  // Chunk k of the pool (nothing past the last).
  SeqRange chunk(int64_t k) const;
  // Counter values a step takes when each of `units` claims until it gets nothing.
  int64_t claims_per_step(int units) const {
    return static_cast<int64_t>(chunks.size()) + units;
  }
};

// shares: the split (one per unit, rank order); pool_fraction in [0, 1]; min_chunk >= 1.
StealPlan steal_plan(std::span<const int64_t> shares, double pool_fraction, int64_t min_chunk);

}  // namespace plait::balance
