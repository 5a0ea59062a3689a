// What a training run reports when it ends (every architecture fills the same one).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace plait {

// What one rank of a model-parallel run held (docs/MODEL_PARALLEL.md, "Memory").
struct RankMemory {
  int rank = 0, dp = 0, tp = 0, pp = 0;
  size_t param_floats = 0;   // this rank's parameters (gradients and each AdamW moment
                             // are the same size)
  size_t model_floats = 0;   // the whole model's parameters
  int peak_micro_batches = 0;  // most micro-batches whose activations were alive at once
  size_t activation_floats = 0;  // floats one micro-batch's activations take on this rank
  // Bytes this rank holds by kind (docs/MEMORY.md "Memory by kind"), measured from the
  // allocations after its first step: the parameter and gradient arenas, AdamW's
  // moments and decay mask, the activation slots kept (the peak in flight), buffers
  // for messages between ranks, and the rest of the model's scratch.
  double weights = 0, grads = 0, optimizer = 0, activations = 0, comm = 0, workspace = 0;
  // Of comm: ZeRO-2/3's page pools under data parallelism (util/page_pool.h), their
  // slots, populated, lent or free: the gradient buckets' (stages 2, 3) and the
  // gathered units' (stage 3).
  double grad_pool = 0, param_pool = 0;
  double peak_rss = 0;  // the process's peak resident set (every thread-rank together)
  double total() const { return weights + grads + optimizer + activations + comm + workspace; }
};

struct TrainSummary {
  int64_t first_step = 0;      // the step this invocation started at (after resume)
  int64_t steps_done = 0;      // steps taken by this invocation
  int64_t step = 0;            // the run's step count at the end
  double last_loss = 0;        // training loss of the last step
  double first_val_loss = -1;  // first validation loss measured (-1 if none)
  double last_val_loss = -1;   // last validation loss measured (-1 if none)
  double tokens_per_s = 0;     // over this invocation
  double loop_s = 0;           // seconds in the training loop (what tokens_per_s divides)
  double checkpoint_s = 0;     // of which the checkpointing rank's training thread spent
                               // checkpointing (a snapshot, or a whole inline write, and
                               // waiting for background writes)
  std::string checkpoint;      // last checkpoint written ("" if none)
  size_t optimizer_bytes = 0;  // --zero: this (the logging) rank's AdamW moments bytes
  size_t gradient_bytes = 0;   // --zero: its gradient arena's resident bytes at the end
  size_t gradient_peak_bytes = 0;  // --zero 2: the most resident during a step (sampled)
  size_t gradient_between_bytes = 0;  // --zero 2 with micro-batches: the most between two
  size_t parameter_bytes = 0;  // --zero 3: its parameter arena's resident bytes at the end
  size_t parameter_peak_bytes = 0;  // --zero 3: the most resident during a pass (sampled)
  // --zero 2|3: the page pools' bytes (util/page_pool.h), held besides the arenas'
  // resident pages: the gradient windows' (2, 3) and the gathered units' (3)
  size_t gradient_pool_bytes = 0, parameter_pool_bytes = 0;
  std::vector<RankMemory> memory;  // model-parallel runs: every rank's, by world rank
  std::vector<int> restage;    // --repartition-threshold: the stages to restart with
                               // (the run checkpointed and ended early), else empty
};

}  // namespace plait
