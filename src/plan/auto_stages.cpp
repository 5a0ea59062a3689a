#include "plan/auto_stages.h"

#include <algorithm>

#include "layout/stage_partition.h"
#include "layout/stages.h"
#include "plan/flops.h"

namespace plait::plan {

AutoStages auto_stages(const ModelSpec& m, int pp) {
  AutoStages a;
  a.head_blocks = head_forward_flops_per_token(m) / layer_forward_flops_per_token(m);
  std::vector<double> extra(static_cast<size_t>(std::max(pp, 1)), 0.0);
  if (pp >= 1) extra.back() += a.head_blocks;
  a.sizes = pp == 1 ? balance_stages(m.layers, 1) : balance_stages_weighted(m.layers, extra);
  return a;
}

std::vector<int> balance_stages_scaled(int layers, const std::vector<double>& extra,
                                       const std::vector<double>& scale) {
  StageCosts c;
  c.extra = extra, c.scale = scale;
  return partition_stages(layers, c).sizes;
}

AutoStages auto_stages_measured(int layers, double head_blocks, const std::vector<double>& scale) {
  AutoStages a;
  a.head_blocks = std::max(0.0, head_blocks);
  std::vector<double> extra(scale.size(), 0.0);
  if (!extra.empty()) extra.back() = a.head_blocks;
  a.sizes = balance_stages_scaled(layers, extra, scale);
  return a;
}

}  // namespace plait::plan
