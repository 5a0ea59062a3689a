// One transformer block (GPT-2, pre-LayerNorm) as a forward/backward pair over views
// into the parameter and gradient arenas, with its saved activations.
//
//   x ─┬─ ln_1 ─ c_attn ─ attention ─ c_proj ─(+)─┬─ ln_2 ─ c_fc ─ gelu ─ c_proj ─(+)─ out
//      └──────────────────────────────────────────┘└───────────────────────────────┘
//                                            resid2
#pragma once
#include <cstddef>
#include <functional>
#include <span>
#include <vector>

#include "model/params.h"
#include "model/recompute.h"

namespace plait {

// Pointers to one block's tensors inside an arena (P = float* or const float*).
template <class P>
struct BlockView {
  P ln1_w, ln1_b, qkv_w, qkv_b, attproj_w, attproj_b;
  P ln2_w, ln2_b, fc_w, fc_b, fcproj_w, fcproj_b;
};
BlockView<const float*> block_view(const ParamTable& t, std::span<const float> arena, int layer);
BlockView<float*> block_view(const ParamTable& t, std::span<float> arena, int layer);

// Sizes of one forward pass: B sequences of T tokens, C channels, NH heads, and the
// tensor-parallel degree tp (1: the whole block). With tp > 1 this rank holds NH/tp
// heads (Ca = C/tp channels of q, k and v) and H = 4C/tp of the MLP's hidden units.
struct BlockShape {
  int B = 0, T = 0, C = 0, NH = 0, tp = 1;
  size_t N() const { return static_cast<size_t>(B) * T; }
  int NHl() const { return NH / tp; }    // local heads
  int Ca() const { return C / tp; }      // local attention channels
  int H() const { return 4 * C / tp; }   // local MLP hidden units
};

// Tensor parallelism inside a block, the Megatron split. With a [OUT, IN] weight:
//   column-parallel (c_attn by heads, c_fc by hidden units): rank r holds a block of
//     OUT rows, y_r = x W_r^T + b_r; x is replicated, the outputs stay split;
//   row-parallel (both c_proj): rank r holds the matching block of IN columns,
//     y = sum_r y_r W_r^T + b: each rank's product is a partial sum closed by ONE
//     allreduce over the tensor group; the training block adds the bias after that
//     allreduce, on every rank (the generation decoders add it before, on the rank with
//     `adds_bias` only), so the sum holds it once.
// Backward mirrors it: d(x) of a column-parallel product is a partial sum (one
// allreduce), d(y_r) of a row-parallel one needs none. Layer norms and the row-parallel
// biases are replicated: every rank computes identical gradients for them.
struct TensorSplit {
  bool adds_bias = true;  // this rank adds row-parallel biases before the sum (decoders)
  std::function<void(float* data, size_t n)> allreduce;  // sum over the tensor group
};

// What the forward pass saves for the backward pass (N = B*T rows). Under
// recomputation (model/recompute.h) a stage's blocks keep only part of it: resize(s,
// kept) sizes the kept tensors and leaves the others empty; one shared buffer sized by
// resize_recomputed(s, mode) receives what the backward pass computes again.
struct BlockActivations {
  std::vector<float> ln1;       // [N,C]
  std::vector<float> ln1_mean;  // [N]
  std::vector<float> ln1_rstd;  // [N]
  std::vector<float> qkv;       // [N,3C]
  std::vector<float> att;       // [B,NH,T,T] softmax probabilities
  std::vector<float> atty;      // [N,C] attention output before c_proj
  std::vector<float> resid2;    // [N,C] x + attention branch
  std::vector<float> ln2;       // [N,C]
  std::vector<float> ln2_mean;  // [N]
  std::vector<float> ln2_rstd;  // [N]
  std::vector<float> fch;       // [N,4C] c_fc output
  std::vector<float> fch_gelu;  // [N,4C]
  std::vector<float> out;       // [N,C] block output = resid2 + MLP branch
  void resize(const BlockShape& s, Recompute kept = Recompute::none);
  // The shared buffer of `mode`: block, everything; selective, att and atty (the
  // attention output, recomputed with att and discarded); none, nothing.
  void resize_recomputed(const BlockShape& s, Recompute mode);
  size_t floats() const;
};

// Scratch shared by every block's forward and backward pass (reused layer by layer).
struct BlockScratch {
  std::vector<float> proj;      // [N,C]  c_proj outputs before the residual add
  std::vector<float> dln;       // [N,C]  gradient w.r.t. a layernorm output
  std::vector<float> datty;     // [N,C]
  std::vector<float> dqkv;      // [N,3C]
  std::vector<float> datt;      // [B,NH,T,T]
  std::vector<float> dfch;      // [N,4C]
  std::vector<float> dfch_gelu; // [N,4C]
  void resize(const BlockShape& s);
  size_t floats() const;
};

// out = block(x). x: [N,C].
// With sh.tp > 1, `split` closes the row-parallel products (required then).
void block_forward(BlockActivations& a, BlockScratch& s, const BlockView<const float*>& w,
                   const float* x, const BlockShape& sh, const TensorSplit* split = nullptr);

// dres: [N,C], on entry d(loss)/d(block output), on exit d(loss)/d(x) (updated in
// place: the residual stream's gradient flows through and both branches add to it).
// Parameter gradients are accumulated into g.
void block_backward(float* dres, BlockScratch& s, const BlockView<float*>& g,
                    const BlockView<const float*>& w, const BlockActivations& a,
                    const float* x, const BlockShape& sh, const TensorSplit* split = nullptr);

}  // namespace plait
