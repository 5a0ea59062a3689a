#include "plan/flops.h"

namespace plait::plan {

double layer_forward_flops_per_token(const ModelSpec& m, double attention_fraction) {
  // 2 FLOPs per weight of the block's matrices (24h² for GPT-2) + q·kᵀ and att·v.
  const double h = m.dim, s = m.ctx;
  return 2 * m.block_matrix_params() + 4 * s * h * attention_fraction;
}

double head_forward_flops_per_token(const ModelSpec& m) { return 2.0 * m.dim * m.vocab; }

double forward_flops_per_token(const ModelSpec& m) {
  return m.layers * layer_forward_flops_per_token(m) + head_forward_flops_per_token(m);
}

double training_flops_per_token(const ModelSpec& m) { return 3 * forward_flops_per_token(m); }

double recompute_flops_per_token(const ModelSpec& m) {
  return training_flops_per_token(m) + m.layers * layer_forward_flops_per_token(m);
}

double training_flops(const ModelSpec& m, double tokens) {
  return tokens * training_flops_per_token(m);
}

double six_n_d(const ModelSpec& m, double tokens) { return 6 * m.params() * tokens; }

}  // namespace plait::plan
