// The time of one training step of a layout on a cluster: the one cost model that
// `plait plan` searches over and `plait simulate` reports.
//
// Per micro-batch, stage by stage (layer_cost.h prices every kernel from its shape):
//   compute      each layer's forward, backward and recomputation: matrix products,
//                attention core, element-wise kernels; the first stage adds the
//                embedding, the last the final norm, LM head and loss.
//   tensor comm  Megatron: 2 allreduces of b·s·h activations per layer forward and 2
//                backward (+2 with full recomputation), ring over the tensor group; the
//                framework's tp_overlap share of it hidden behind compute.
//   p2p          pp > 1: receive the activations (forward) and their gradient
//                (backward) of b·s·h elements from the neighbouring stage.
// Stages: the blocks are split so that the busiest stage (blocks + the embedding's or
// the head's work in blocks) is least (layout/stages.h, balance_stages_weighted), or as
// the layout says.
// Step:
//   pipeline     Σ stages + (M − 1) × slowest stage (1F1B or GPipe: the micro-batches
//                stream through the slowest stage once the pipe is full); with equal
//                stages (M + P − 1) × micro-batch time.
//   bubble       pipeline − M × slowest stage.
//   dp sync      allreduce of the stage's gradients over the data-parallel group by
//                the layout's method (collective_cost.h); ZeRO-3 also gathers the weights
//                (1.5 × the bytes). Where the framework overlaps it, bucketed, it hides
//                behind the last micro-batch's backward pass and what sticks out is
//                exposed (never less than the last bucket); else all of it is exposed.
//   optimizer    AdamW streams 28 bytes per parameter (read weight/master, grad, two
//                moments; write them back), divided by dp under ZeRO.
//   step         pipeline + exposed dp sync + optimizer.
// The breakdown (plait plan --explain) splits the step into classes that add up to it:
// M × the slowest stage's GEMM, attention, element-wise, tensor comm and p2p time, the
// bubble, the exposed dp sync and the optimizer.
#pragma once
#include <utility>
#include <vector>

#include "plan/cluster_spec.h"
#include "plan/framework.h"
#include "plan/layout.h"
#include "plan/memory_model.h"
#include "plan/model_spec.h"
#include "plan/op_cost.h"

namespace plait::plan {

struct StepOptions {
  Framework framework;                     // what the training framework does (framework.h)
  bool overlap = true;                     // allow the framework's dp overlap (false: none)
  double bucket_bytes = 25.0 * (1 << 20);  // gradient bucket (PyTorch DDP's default)
  // Slow devices (plan --slowdown RANK:FACTOR): device `rank` of the layout's placement
  // computes FACTOR times slower. A stage runs at its slowest device's pace (a
  // pipeline stage waits for its tensor group, a replica's stage for the others at the
  // data-parallel reduction), and the blocks are split by cost with it
  // (layout/stage_partition.h). Ranks beyond a layout's devices are idle in it.
  std::vector<std::pair<int, double>> slowdowns;
};

// Per stage of `l`: its slowest device's factor (1 when none is slow).
std::vector<double> stage_slowdowns(const Layout& l, const StepOptions& opt);

// One operation class of the breakdown: seconds of one step on the critical path, and
// the efficiency it was costed at (achieved FLOP/s or bytes/s over the device's peak).
struct ClassTime {
  const char* name = "";
  double seconds = 0;
  double efficiency = 0;  // 0 where it does not apply
  const char* basis = "";  // what the efficiency is a fraction of
};

struct StepCost {
  // Per micro-batch on the slowest stage.
  double forward_s = 0, backward_s = 0, recompute_s = 0;  // compute
  double tensor_comm_s = 0;                               // tensor-parallel allreduces (exposed)
  double p2p_s = 0;                                       // stage-to-stage transfers
  double micro_batch_s = 0;                               // all of the above
  OpTime gemm, attention, elementwise;                    // its compute by class
  // Per step.
  int micro_batches = 1;
  std::vector<int> stages;  // blocks per stage
  std::vector<double> stage_s;  // micro-batch time of each stage
  double pipeline_s = 0;    // Σ stages + (M − 1) × slowest
  double bubble_s = 0;      // pipeline_s − M × slowest
  double dp_comm_s = 0;     // the whole gradient reduction
  double dp_exposed_s = 0;  // the part not hidden behind the backward pass
  double optimizer_s = 0;
  double step_s = 0;
  double bubble_fraction = 0;
  double tokens = 0;          // per step
  double model_flops = 0;     // per step, no recomputation (MFU's numerator)
  double hardware_flops = 0;  // per step, executed (with recomputation)
  double mfu = 0;             // model_flops / (step_s × devices × peak)
  MemoryEstimate memory;      // busiest device
  double tokens_per_s() const { return step_s > 0 ? tokens / step_s : 0; }
  double comm_exposed_s() const;  // (tensor + p2p) × M + exposed dp sync
  // GEMM, attention, element-wise, tensor comm, pipeline comm, bubble, exposed dp
  // comm, optimizer: seconds per step adding up to step_s.
  std::vector<ClassTime> breakdown(const DeviceSpec& d) const;
};

// The topologies the layout's groups see on `c` (rank placement in layout.h).
Topology tensor_topology(const ClusterSpec& c, const Layout& l);
Topology data_topology(const ClusterSpec& c, const Layout& l);
const LinkSpec& stage_link(const ClusterSpec& c, const Layout& l);

StepCost step_cost(const ModelSpec& m, const ClusterSpec& c, const Layout& l,
                   const StepOptions& opt = {});

// Compute-only time of `tokens` tokens on ONE device at its sustained rate, memory
// ignored (the classic "N years on one GPU" figure).
double single_device_seconds(const ModelSpec& m, const DeviceSpec& d, double tokens);

}  // namespace plait::plan
