// One way to run a training step: the dp x tp x pp mesh, the micro-batching, the
// pipeline schedule, the gradient sync method and whether activations are recomputed.
//
// Rank placement (layout/mesh_shape.h, the trainer's): tensor-parallel ranks are
// adjacent, then data-parallel, then pipeline stages outermost:
//   rank = tp_rank + tp * (dp_rank + dp * stage).
// With k devices per node a tensor group stays inside a node when tp <= k, a
// data-parallel group has min(dp, k/tp) members per node, and neighbouring stages are
// tp·dp ranks apart (same node only when tp·dp < k).
#pragma once
#include <string>
#include <vector>

#include "layout/schedule.h"
#include "plan/collective_cost.h"

namespace plait::plan {

// Activation recomputation in the backward pass (Korthikanti et al. 2022): none;
// selective (the attention core: q·kᵀ, softmax, dropout, att·v, whose s×s tensors are
// most of the memory and little of the FLOPs); full (every layer keeps its input only
// and runs its forward again).
enum class Recompute { none, selective, full };
const char* to_string(Recompute r);

struct Layout {
  int dp = 1, tp = 1, pp = 1;
  int micro_batch = 1;    // b: sequences in one micro-batch (on the busiest dp rank)
  int micro_batches = 1;  // M: micro-batches per step per pipeline (gradient accumulation
                          // when pp = 1) on the busiest dp rank: when dp does not divide
                          // the batch, some replicas take one sequence more
  std::vector<int> stages;  // blocks per pipeline stage; empty: balance_stages (even)
  PipeSchedule schedule = PipeSchedule::one_f_one_b;
  SyncAlgorithm sync = SyncAlgorithm::ring;
  int servers = 1;         // ps shards
  Recompute recompute = Recompute::none;

  int devices() const { return dp * tp * pp; }
};

// The strategy family: "one device", "data", "tensor", "pipeline", "tensor+pipeline",
// "data+tensor", "data+pipeline", "data+tensor+pipeline".
std::string family(const Layout& l);

}  // namespace plait::plan
