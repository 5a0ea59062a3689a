// The kernels of one transformer layer, the LM head and the embedding, costed one by one
// (op_cost.h) for one micro-batch on one device of a t-way tensor-parallel group, and
// added up by operation class: matrix products (GEMM), attention core, element-wise.
//
// A layer's forward, n = b·s tokens, e bytes per element, R = 1/t with sequence
// parallelism else 1 (the Megatron split: column-parallel then row-parallel):
//   GEMM        qkv [n,h]·[h,(h+2·kv)/t], projection [n,h/t]·[h/t,h],
//               MLP up [n,h]·[h,f/t] (SwiGLU: gate and up, 2f/t), down [n,f/t]·[f/t,h];
//               backward: dX and dW, two products of the same size each.
//   attention   unfused (Megatron): b·a/t products q·kᵀ [s,d]·[d,s] and att·v [s,s]·[s,d]
//               (plait's fp32 kernel: the causal share it computes), the scale-mask-
//               softmax (read and write the s×s scores) and dropout (read, write, a
//               1-byte mask); backward four products, softmax and dropout backward.
//               Fused (flash): 4·s²·d·b·a/t FLOPs forward (the causal half computed),
//               2.5× that backward, at the device's fused-attention rate; no s×s traffic.
//   element-wise  two layer norms (read + write, 4eh·R), two bias-dropout-residual
//               kernels ((3e+1)h·R each), the activation (GELU 2e·f/t, SwiGLU 3e·f/t),
//               rotary embedding of q and k (2e·(h+kv)/t); backward twice the bytes.
//               Where GELU is compute-bound (CPUs) its elements at the GELU rate.
// Recomputation adds, in the backward pass: selective, the attention core's forward
// (nothing with a fused kernel, which never stores the scores); full, the whole forward.
#pragma once
#include "plan/framework.h"
#include "plan/layout.h"
#include "plan/model_spec.h"
#include "plan/op_cost.h"
#include "plan/training_format.h"

namespace plait::plan {

// One pass over one micro-batch, by operation class.
struct PassCost {
  OpTime gemm, attention, elementwise;
  double seconds() const { return gemm.seconds + attention.seconds + elementwise.seconds; }
  PassCost& operator+=(const PassCost& o) {
    gemm += o.gemm, attention += o.attention, elementwise += o.elementwise;
    return *this;
  }
  PassCost operator*(double k) const { return {gemm * k, attention * k, elementwise * k}; }
  PassCost operator+(const PassCost& o) const { return PassCost(*this) += o; }
};

struct LayerCost {
  PassCost forward, backward, recompute;  // recompute: the extra work of the mode
  int tp_allreduces = 4;  // of [b·s, h] per micro-batch: 2 forward, 2 backward, +2 full
  PassCost total() const { return forward + backward + recompute; }
};

// What the cost of a part depends on besides the model and the device.
struct PartShape {
  Format format = Format::mixed;
  int tp = 1;
  int micro_batch = 1;
  Recompute recompute = Recompute::none;
};

LayerCost layer_cost(const ModelSpec& m, const DeviceSpec& d, const Framework& fw,
                     const PartShape& p);
// Forward and backward of the final norm, the LM head (vocabulary split by t) and the
// cross-entropy (fp32 logits and probabilities: 8·V/t bytes per token forward, twice
// that backward).
PassCost head_cost(const ModelSpec& m, const DeviceSpec& d, const Framework& fw,
                   const PartShape& p);
// Forward and backward of the token (and learned position) embedding: a gather and a
// scatter-add of e·h per token.
PassCost embedding_cost(const ModelSpec& m, const DeviceSpec& d, const PartShape& p);

}  // namespace plait::plan
