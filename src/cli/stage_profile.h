// --stages auto and --stages profile: the per-stage slowdowns and, for profile, a
// short profile of the model about to be trained.
//
// Stage s is scale[s] times slower: the largest --slowdown at step 0 among its ranks
// (both modes). With --stages profile on in-process workers (threads) the CLI times forward+backward of the whole model
// with 1 block and with 3 blocks on one micro-batch (B = the replica's micro-batch
// size, T = ctx; the best of 5 runs each): a block costs (t3 - t1) / 2, the rest (the
// embedding, final norm, LM head and loss) t1 - block, in blocks (0 if below). Under
// MPI each process would measure different numbers and every rank must choose the
// same stages, so there, and with --stages auto, the head's share comes from the
// cost model (plan/auto_stages.h). Caveat (docs/BALANCE.md): on a CPU whose caches
// hold a 1-block model's activations but not a 3-block one's, a block's time is not
// linear in the blocks and the profile undercounts the head.
#pragma once
#include <string>
#include <vector>

#include "parallel/train_options.h"

namespace plait {

struct StageProfile {
  bool measured = false;  // false: the cost model's head_blocks (MPI, or an unusable profile)
  double block_s = 0;     // a block's forward+backward on one micro-batch (measured)
  double head_blocks = 0; // the last stage's extra work, in blocks
  std::vector<double> scale;  // per stage: its slowest rank's --slowdown at step 0
  int micro_batch = 0;        // sequences per micro-batch profiled
};

// opt.model.vocab must be resolved. `model_head_blocks`: the cost model's figure;
// `measure`: profile (threads backend only).
StageProfile profile_stages(const TrainOptions& opt, double model_head_blocks, bool measure);

// "measured: a block 3.10 ms on a micro-batch of 4, the LM head and embedding 1.23
// blocks; stage slowdowns 1 2" (or "cost model: ...").
std::string describe(const StageProfile& p);

}  // namespace plait
