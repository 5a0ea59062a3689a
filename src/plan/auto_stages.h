// --stages auto: blocks per pipeline stage from the cost model, counting the LM head
// (and the embedding) in blocks.
//
// A block's forward costs layer_forward_flops_per_token (24h² + 4sh for GPT-2), the
// head's head_forward_flops_per_token (2hV) plus nothing for the embedding (a gather
// and an add: no multiply-adds); backward is twice the forward for both, so the ratio
// holds for forward+backward. The last stage carries head / block blocks of extra
// work, the first stage embedding / block (0 by FLOPs), and layout/stages.h's
// balance_stages_weighted picks the partition whose busiest stage is least.
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

}  // namespace plait::plan
