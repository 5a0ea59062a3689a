// ZeRO-1 for data parallelism (docs/MEMORY.md): every rank keeps a full replica of the
// parameters and gradients, but the AdamW moments and the update only of its shard
// of the arena (comm::shard_of(total, D, rank)). Per step, after the backward pass:
//   1. ring reduce-scatter of the gradient sums: the rank's shard holds the global sums
//      (the rest of its gradient arena is scratch from then on);
//   2. the shard is divided by the global batch; the global gradient norm is the
//      square root of the shards' sums of squares (doubles, allreduced);
//   3. the shard is clipped and stepped by AdamW with the shard's moments;
//   4. ring allgather of the parameters: every replica again holds every shard.
// The sums are added in a different order than the bucketed allreduce, so a --zero 1
// run equals the plain one within rounding (1e-5), not bit for bit; it is
// deterministic, so a resumed --zero 1 run repeats the uninterrupted one exactly.
// Checkpoints stay the single-worker format: the moments are gathered for a save.
#pragma once
#include <cstddef>
#include <span>
#include <vector>

#include "comm/collectives.h"
#include "comm/group.h"
#include "model/adamw.h"

namespace plait {

class Zero1 {
 public:
  // Collective set-up over `group` (the data-parallel ranks) for an arena of `total`
  // floats; drops the moments outside this rank's shard from `adam` (which holds the
  // full moments, fresh or loaded from a checkpoint of any layout).
  Zero1(comm::Group group, size_t total, AdamW& adam);
  comm::Shard shard() const { return shard_; }
  // Steps 1-4 above on the local gradient sums `grads`; returns the global norm
  // before clipping and sets `loss_sum` to the global sum.
  double step(std::span<float> params, std::span<float> grads, double& loss_sum,
              int64_t batch, float lr, int64_t t);
  // Collective: the full moments (every rank's shard), for a checkpoint.
  void gather_moments(AdamW& full);
  // This rank's optimizer bytes (m and v of its shard).
  size_t optimizer_bytes() const { return 2 * shard_.count * sizeof(float); }

 private:
  comm::Group group_;
  AdamW& adam_;
  size_t total_;
  comm::Shard shard_;
};

}  // namespace plait
