// --stages auto: blocks per pipeline stage from the cost model, counting the LM head
// (and the embedding) in blocks.
//
// A block's forward costs layer_forward_flops_per_token (24h² + 4sh for GPT-2), the
// head's head_forward_flops_per_token (2hV) plus nothing for the embedding (a gather
// and an add: no multiply-adds); backward is twice the forward for both, so the ratio
// holds for forward+backward. The last stage carries head / block blocks of extra
// work, the first stage embedding / block (0 by FLOPs), and layout/stages.h's
// balance_stages_weighted picks the partition whose busiest stage is least.
// auto_stages_measured does the same from measured costs (cli/stage_profile.h) and
// per-stage slowdowns.
#pragma once
#include <vector>

#include "plan/model_spec.h"

namespace plait::plan {

struct AutoStages {
  std::vector<int> sizes;   // blocks per stage, sum = layers, each >= 1
  double head_blocks = 0;   // the last stage's extra work, in blocks
};

// UsageError unless 1 <= pp <= m.layers.
AutoStages auto_stages(const ModelSpec& m, int pp);

// The partition of `layers` blocks over scale.size() stages (each >= 1) whose busiest
// stage, scale[s] x (blocks_s + extra[s]), is least: exact, by dynamic programming
// over prefixes. scale[s] is how many times slower stage s runs (its slowest rank's
// --slowdown; 1 on equal hardware). Among equally busy partitions, the earlier stages
// take more blocks. UsageError unless 1 <= stages <= layers and the sizes agree.
std::vector<int> balance_stages_scaled(int layers, const std::vector<double>& extra,
                                       const std::vector<double>& scale);

// --stages auto from a measured profile: the LM head (with the embedding) worth
// `head_blocks` blocks on the last stage, stage s `scale[s]` times slower.
AutoStages auto_stages_measured(int layers, double head_blocks, const std::vector<double>& scale);

}  // namespace plait::plan
