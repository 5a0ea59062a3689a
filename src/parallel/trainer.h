// The entry point of a training run (the dispatcher: which architecture, on threads
// or MPI; the loop itself is run_loop.h). One step (docs/ARCHITECTURE.md, "One training step"):
//   1. the sampler turns (seed, step) into the global batch;
//   2. each worker takes its share of the sequences, in micro-batches, and
//      accumulates the SUM of per-sequence gradients;
//   3. gradients are reduced across workers (data parallelism);
//   4. the sum is divided once by the global batch size, clipped, and AdamW updates;
//   5. metrics, validation, checkpoints.
// Steps are numbered from 0; a checkpoint "at step s" holds the state after s steps.
#pragma once
#include "parallel/train_options.h"
#include "parallel/train_summary.h"

namespace plait {

// Runs the training described by `opt` (validated here). Throws UsageError on bad
// input (corpus, checkpoint, flags) and RuntimeError on failures.
TrainSummary train(const TrainOptions& opt);

}  // namespace plait
