// FLOPs of training a GPT (multiply-add = 2 FLOPs), per token, attention included.
//
// Forward, per token (Kaplan et al. 2020, Table 1; Narayanan et al. 2021, §5.1):
//   each layer    2 × the block's matrix weights: 24h² for GPT-2 (qkv 6h², attention
//                         projection 2h², MLP 16h²); a SwiGLU MLP of width f 6hf, K
//                         and V of kv heads 4h·kv_dim (model_spec.h)
//               + 4·s·h  (q·kᵀ and att·v over the whole s×s square: the count papers
//                         use, although a causal kernel may skip half)
//   LM head       2·h·V
// Backward is twice the forward (the gradients of inputs and of weights); full
// recomputation adds one more forward of the layers (not of the head). So training
// costs 3 × forward per token ≈ 6·N plus attention, and 4 × forward with recompute.
#pragma once
#include "plan/model_spec.h"

namespace plait::plan {

// `attention_fraction` of the s×s products actually computed (1: the full square).
double layer_forward_flops_per_token(const ModelSpec& m, double attention_fraction = 1);
double head_forward_flops_per_token(const ModelSpec& m);
double forward_flops_per_token(const ModelSpec& m);
// Model FLOPs (no recomputation): 3 × forward. The numerator of MFU.
double training_flops_per_token(const ModelSpec& m);
// Executed FLOPs with full recomputation: + one forward of the layers.
double recompute_flops_per_token(const ModelSpec& m);
// A whole run over `tokens` tokens.
double training_flops(const ModelSpec& m, double tokens);
// The rule of thumb 6·N·D (N parameters, D tokens), for comparison.
double six_n_d(const ModelSpec& m, double tokens);

}  // namespace plait::plan
