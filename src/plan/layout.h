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

#include "layout/schedule.h"
#include "plan/collective_cost.h"

namespace plait::plan {

struct Layout {
  int dp = 1, tp = 1, pp = 1;
  int micro_batch = 1;    // b: sequences in one micro-batch (on the busiest dp rank)
  int micro_batches = 1;  // M: micro-batches per step per pipeline (gradient accumulation
                          // when pp = 1)
  PipeSchedule schedule = PipeSchedule::one_f_one_b;
  SyncAlgorithm sync = SyncAlgorithm::ring;
  int servers = 1;         // ps shards
  bool recompute = false;  // full activation recomputation, layer by layer

  int devices() const { return dp * tp * pp; }
};

// The strategy family: "one device", "data", "tensor", "pipeline", "tensor+pipeline",
// "data+tensor", "data+pipeline", "data+tensor+pipeline".
std::string family(const Layout& l);

}  // namespace plait::plan
