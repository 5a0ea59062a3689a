#include "plan/auto_stages.h"

#include <algorithm>
#include <limits>
#include <string>

#include "util/error.h"

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
  const int P = static_cast<int>(scale.size());
  balance_stages(layers, P);  // the same preconditions and message
  if (extra.size() != scale.size())
    throw UsageError("balance_stages_scaled: " + std::to_string(extra.size()) + " extras for " +
                     std::to_string(P) + " stages");
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // best[s][n]: the least busiest stage of stages 0..s holding blocks 0..n-1;
  // take[s][n]: the blocks stage s takes in it.
  std::vector<std::vector<double>> best(P, std::vector<double>(layers + 1, kInf));
  std::vector<std::vector<int>> take(P, std::vector<int>(layers + 1, 0));
  for (int n = 1; n <= layers; ++n) best[0][n] = scale[0] * (n + extra[0]), take[0][n] = n;
  for (int s = 1; s < P; ++s)
    for (int n = s + 1; n <= layers; ++n)
      for (int k = 1; k <= n - s; ++k) {  // fewest blocks on stage s first: ties favour earlier stages
        const double v = std::max(best[s - 1][n - k], scale[s] * (k + extra[s]));
        if (v < best[s][n] - 1e-12) best[s][n] = v, take[s][n] = k;
      }
  std::vector<int> sizes(P);
  for (int s = P - 1, n = layers; s >= 0; n -= sizes[s], --s) sizes[s] = take[s][n];
  return sizes;
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
