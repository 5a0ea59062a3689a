// Training on a dp x tp x pp mesh of workers (docs/MODEL_PARALLEL.md): tensor and
// pipeline parallelism, and their hybrids with data parallelism.
//
// One step on each rank (DESIGN.md, "How one training step flows"):
//   1. the replica (dp coordinate) takes its share of the global batch and cuts it
//      into M micro-batches (--micro-batches; 1 without a pipeline);
//   2. the stage runs the pipeline schedule (parallel/pipeline_schedule.h): forwards
//      and backwards of micro-batches in that order; activations go to the next stage
//      and their gradients come back as point-to-point messages on the pp group, each
//      tagged by micro-batch and direction; inside each block the tp group closes the
//      Megatron split with one allreduce per row-parallel product;
//   3. with pp > 1 the tied wte's two copies (first stage: embedding, last stage:
//      head) sum their gradients on the embed group;
//   4. the data-parallel group allreduces the gradient sums by the chosen sync method;
//   5. every rank divides by the global batch once; the global gradient norm is the
//      sum of the OWNED squares over the model-parallel group (each float counted
//      once); clip and AdamW step.
// Every tp replica of a replicated tensor computes bit-identical gradients, and every
// dp replica receives bit-identical sums, so copies never drift apart.
#pragma once
#include "comm/comm.h"
#include "parallel/replica.h"
#include "parallel/run_output.h"
#include "parallel/trainer.h"

namespace plait {

// The whole run on opt.workers = dp*tp*pp threads; `out` is rank 0's.
TrainSummary train_mesh(const TrainOptions& opt, const RunData& data, RunOutput& out);

// One rank's run (threads or MPI); `out` logs on world rank 0 only. Returns the
// summary (meaningful on rank 0; `memory` holds every rank's report there).
TrainSummary run_mesh_rank(comm::Comm& c, const TrainOptions& opt, const RunData& data,
                           RunOutput& out);

// The measurement behind `plait bench train --tp T --pp P ...`: `steps` timed steps
// (after `warmup`) of opt's layout on random bytes, on opt.workers threads.
struct MeshBench {
  double median_step_s = 0;   // rank 0's
  double tokens_per_s = 0;    // global batch tokens / median step
  // Per stage: the share of the pipeline phase (the schedule, from its first op to
  // its last) that the stage spent NOT computing — waiting for activations or
  // gradients — over the timed steps, mean over the stage's tensor ranks and replicas.
  std::vector<double> stage_bubble;
  double bubble = 0;          // mean of stage_bubble
  // Per stage: compute time of one micro-batch's forward and backward (s), mean over
  // the timed steps and the stage's ranks (with tp > 1 it includes the tensor
  // group's allreduces inside the blocks) — the f and b of simulate_pipeline().
  std::vector<double> stage_forward_s, stage_backward_s;
  // Per stage: its pipeline phase per step (s), mean as above. Every stage starts its
  // phase together (the previous step ends in collectives) and stage 0 ends last (its
  // last backward needs every other stage's), so stage_phase_s[0] is the pipeline's
  // makespan, the denominator of (P - 1) / (M + P - 1).
  std::vector<double> stage_phase_s;
};
MeshBench bench_mesh(const TrainOptions& opt, int warmup, int steps);

}  // namespace plait
