// The step time of a `plait train` run on THIS machine, modelled on what the trainers
// do (parallel/mesh_worker.cpp, model/gpt.cpp, model/block.cpp,
// data_parallel.cpp), from a measured MachineProfile. `plait simulate` reports it;
// `plait bench calibrate --check` compares it with measured steps.
//
// Every rank gets the list of operations it runs in one step, in order:
//   compute     kernels, costed on ONE core at the profile's rates: matrix products
//               (sgemm rate x BLAS threads), attention (the attention kernels' own rate:
//               small per-head GEMMs and the causal softmax), elementwise kernels
//               (layer norms, residuals, bias sums, zeroing: bytes / memory bandwidth;
//               GELU and softmax exponentials at the GELU rate), the optimizer pass
//               (zero, scale, norm, clip, AdamW: 52 bytes per parameter);
//   send/recv   the pipeline's activations and their gradients, [b*T, C] floats, one
//               message of the threads transport (latency, then the receiver copies);
//   collective  the tensor group's allreduce after each row-parallel product (2 per
//               block forward, 2 backward, [b*T, C] floats, ring), the tied wte's
//               allreduce between the first and last stage, the data-parallel
//               allreduce of the rank's gradient arena by the run's sync method
//               (collective_cost.h on the measured transport link: latency steps are
//               waits, the bytes are copies and sums that occupy the rank's core), the
//               loss and gradient-norm allreduces (latency only).
// The ranks' lists are played against each other in a discrete-event simulation: a
// receive waits for its send, a collective for all its members, and the pipeline
// schedule's bubble comes out of the dependencies (the trainer's own GPipe/1F1B lists,
// layout/schedule.h, on the trainer's rank placement, layout/mesh_shape.h). Cores are shared: when n threads compute at once
// (a rank counts its BLAS threads), each runs at profile.thread_share(n) of one core
// — min(1, cores / n) on an idle machine, less under other processes' load, as
// measured. So 4 workers on 2 cores take twice as long per kernel, and a pipeline
// stage that waits frees its core for the others.
//
// Not modelled: the data-parallel trainer's overlap of the gradient allreduce with the
// backward pass (on a machine with no free core the communication thread competes
// with the compute threads, so the allreduce is charged after the backward pass);
// cache effects (the elementwise kernels at DRAM bandwidth); evaluation and logging.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "plan/layout.h"
#include "plan/machine_profile.h"
#include "plan/model_spec.h"
#include "util/link.h"

namespace plait::plan {

struct LocalRun {
  ModelSpec model;
  Layout layout;            // dp, tp, pp, micro_batches, schedule, sync (as the trainer)
  std::vector<int> stages;  // blocks per stage; empty: balanced as the trainer does
  int micro_batch = 0;      // data-parallel trainer's --micro-batch (0: the whole share)
  int blas_threads = 1;     // per worker
  int servers = 0;          // dedicated parameter-server ranks (--servers K)
  int zero = 0;             // ZeRO stage (--zero): the memory model's sharding
  double bucket_mb = 4;     // --bucket-mb: the memory model's ZeRO-2/3 page pools
  int ranks_per_node = 0;   // emulated nodes (0: one node)
  std::optional<LinkSpec> intra, inter;  // emulated links (--intra-link/--inter-link)
  std::vector<double> slowdown;  // per world rank: its forwards and backwards take this
                                 // many times as long (--slowdown); empty: none

  bool mesh() const { return layout.tp > 1 || layout.pp > 1; }
  int workers() const { return layout.devices(); }
};

struct LocalPrediction {
  double step_s = 0;
  // rank 0's step, by what it was doing (they add up to step_s)
  double compute_s = 0;      // forward and backward kernels
  double tensor_comm_s = 0;  // waiting in and running the tensor allreduces
  double p2p_s = 0;          // waiting for and copying stage messages (the bubble too)
  double dp_comm_s = 0;      // data-parallel (or parameter-server) gradient sync
  double other_comm_s = 0;   // tied-wte, loss and norm allreduces
  double optimizer_s = 0;    // zero grads, scale, norm, clip, AdamW
  // the pipeline
  double forward_s = 0, backward_s = 0;  // one micro-batch on the slowest stage, on a
                                         // core of its own (no sharing)
  double pipeline_s = 0;                 // rank 0's schedule, first op to last
  double bubble_fraction = 0;            // mean over stages of idle / schedule time
  // the machine
  double peak_threads = 0;  // compute threads at once (workers x BLAS threads)
  double peak_share = 1;    // each one's share of a core then
  std::vector<std::string> notes;
};

// Throws UsageError for a layout the trainer rejects (stages that do not add up...).
LocalPrediction predict_local(const LocalRun& r, const MachineProfile& p);

// FLOPs of plait's attention kernels (tensor/attention.cpp: rows in blocks of 32, the
// products up to the diagonal block) for one head of one sequence of T tokens, head
// size hs: {forward, backward}. `plait bench calibrate` divides by the kernels' time.
std::pair<double, double> attention_kernel_flops(int T, int hs);

}  // namespace plait::plan
