#include "plan/auto_stages.h"

#include <algorithm>

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

}  // namespace plait::plan
