// The time of one training step of a layout on a cluster: the one cost model that
// `plait plan` searches over and `plait simulate` reports.
//
// Per micro-batch of b sequences (b·s tokens) on the busiest pipeline stage:
//   compute      per layer: FLOPs/t ÷ (peak × gemm_efficiency)          (flops.h; the
//                           attention share the trainer computes, training_format.h),
//                           or the weights' bytes ÷ memory bandwidth if longer
//                         + saved activation bytes ÷ memory bandwidth  (elementwise
//                           kernels: layer norms, GELU, softmax, residuals read and
//                           write about what is saved; backward twice that)
//                         + GELU elements ÷ GELU rate where it is compute-bound (CPUs)
//                forward 1×, backward 2×, recomputation +1 forward of the layers;
//                the last stage adds the LM head (2hV/t per token, 3×) and its softmax.
//   tensor comm  Megatron: 2 allreduces of b·s·h activations per layer forward and 2
//                backward (+2 when recomputing), ring over the tensor group, not
//                overlapped.
//   p2p          pp > 1: receive the activations (forward) and their gradient
//                (backward) of b·s·h elements from the neighbouring stage.
// Step:
//   pipeline     (M + P - 1) × micro-batch time: the bubble is (P-1) of those slots.
//   dp sync      allreduce of the stage's gradients over the data-parallel group by
//                the layout's method (collective_cost.h). Bucketed, it overlaps the
//                backward pass of the last micro-batch; what sticks out is exposed,
//                and never less than the last bucket's allreduce.
//   optimizer    AdamW streams 28 bytes per parameter (read weight/master, grad, two
//                moments; write them back) at memory bandwidth.
//   step         pipeline + exposed dp sync + optimizer.
#pragma once
#include "plan/cluster_spec.h"
#include "plan/layout.h"
#include "plan/memory_model.h"
#include "plan/model_spec.h"

namespace plait::plan {

struct StepOptions {
  bool overlap = true;                     // dp sync overlaps the last backward pass
  double bucket_bytes = 25.0 * (1 << 20);  // gradient bucket (PyTorch DDP's default)
};

struct StepCost {
  // Per micro-batch on the busiest stage.
  double forward_s = 0, backward_s = 0, recompute_s = 0;  // compute
  double tensor_comm_s = 0;                               // tensor-parallel allreduces
  double p2p_s = 0;                                       // stage-to-stage transfers
  double micro_batch_s = 0;                               // all of the above
  // Per step.
  int micro_batches = 1;
  double pipeline_s = 0;    // (M + P - 1) × micro_batch_s
  double bubble_s = 0;      // (P - 1) × micro_batch_s
  double dp_comm_s = 0;     // the whole gradient allreduce
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
