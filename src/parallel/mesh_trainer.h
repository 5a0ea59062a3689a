// Training on a dp x tp x pp mesh of workers (docs/MODEL_PARALLEL.md): tensor and
// pipeline parallelism, and their hybrids with data parallelism.
//
// One step on each rank (docs/ARCHITECTURE.md, "One training step"):
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
#include "parallel/train_summary.h"

namespace plait {

// One rank's run (threads or MPI); `out` logs on world rank 0 only. Returns the
// summary (meaningful on rank 0; `memory` holds every rank's report there).
TrainSummary run_mesh_rank(comm::Comm& c, const TrainOptions& opt, const RunData& data,
                           RunOutput& out);
}  // namespace plait
