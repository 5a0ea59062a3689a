#include "model/block.h"

#include <algorithm>

#include "tensor/kernels.h"

namespace plait {
namespace k = kernels;

namespace {
template <class P, class A>
BlockView<P> make_view(const ParamTable& t, A arena, int layer) {
  auto p = [&](BlockTensor bt) { return arena.data() + t.block(layer, bt).offset; };
  using B = BlockTensor;
  return {p(B::ln1_w), p(B::ln1_b), p(B::qkv_w),  p(B::qkv_b),  p(B::attproj_w), p(B::attproj_b),
          p(B::ln2_w), p(B::ln2_b), p(B::fc_w),   p(B::fc_b),   p(B::fcproj_w),  p(B::fcproj_b)};
}
}  // namespace

BlockView<const float*> block_view(const ParamTable& t, std::span<const float> arena,
                                   int layer) {
  return make_view<const float*>(t, arena, layer);
}
BlockView<float*> block_view(const ParamTable& t, std::span<float> arena, int layer) {
  return make_view<float*>(t, arena, layer);
}

void BlockActivations::resize(const BlockShape& s, Recompute kept) {
  const size_t N = s.N(), C = s.C, Ca = s.Ca(), H = s.H();
  const size_t natt = static_cast<size_t>(s.B) * s.NHl() * s.T * s.T;
  const bool all = kept != Recompute::block;  // block keeps only out
  for (auto* v : {&ln1, &resid2, &ln2}) v->resize(all ? N * C : 0);
  out.resize(N * C);
  for (auto* v : {&ln1_mean, &ln1_rstd, &ln2_mean, &ln2_rstd}) v->resize(all ? N : 0);
  atty.resize(all ? N * Ca : 0);
  qkv.resize(all ? N * 3 * Ca : 0);
  att.resize(kept == Recompute::none ? natt : 0);
  fch.resize(all ? N * H : 0);
  fch_gelu.resize(all ? N * H : 0);
}

void BlockActivations::resize_recomputed(const BlockShape& s, Recompute mode) {
  *this = BlockActivations{};
  if (mode == Recompute::block) return resize(s, Recompute::none);
  if (mode == Recompute::selective) {
    att.resize(static_cast<size_t>(s.B) * s.NHl() * s.T * s.T);
    atty.resize(s.N() * s.Ca());
  }
}

size_t BlockActivations::floats() const {
  size_t n = 0;
  for (auto* v : {&ln1, &ln1_mean, &ln1_rstd, &qkv, &att, &atty, &resid2, &ln2, &ln2_mean,
                  &ln2_rstd, &fch, &fch_gelu, &out})
    n += v->size();
  return n;
}

void BlockScratch::resize(const BlockShape& s) {
  const size_t N = s.N(), C = s.C, Ca = s.Ca(), H = s.H();
  proj.resize(N * C);
  dln.resize(N * C);
  datty.resize(N * Ca);
  dqkv.resize(N * 3 * Ca);
  datt.resize(static_cast<size_t>(s.B) * s.NHl() * s.T * s.T);
  dfch.resize(N * H);
  dfch_gelu.resize(N * H);
}

size_t BlockScratch::floats() const {
  return proj.size() + dln.size() + datty.size() + dqkv.size() + datt.size() + dfch.size() +
         dfch_gelu.size();
}

namespace {
// Closes a partial sum over the tensor group (no-op without tensor parallelism).
void tp_allreduce(const TensorSplit* split, float* v, size_t n) {
  if (split && split->allreduce) split->allreduce(v, n);
}
}  // namespace

void block_forward(BlockActivations& a, BlockScratch& s, const BlockView<const float*>& w,
                   const float* x, const BlockShape& sh, const TensorSplit* split) {
  const int N = static_cast<int>(sh.N()), C = sh.C, Ca = sh.Ca(), H = sh.H();
  const size_t NC = sh.N() * C;
  // attention branch: c_attn column-parallel (this rank's heads), c_proj row-parallel.
  // The projections and c_fc run without their biases; each bias is added in the pass
  // that follows (the residual add, the GELU), which saves a pass over the output. A
  // row-parallel bias is added after the allreduce, by every rank (replicated).
  k::layernorm_forward(a.ln1.data(), a.ln1_mean.data(), a.ln1_rstd.data(), x, w.ln1_w,
                       w.ln1_b, N, C);
  k::matmul_forward(a.qkv.data(), a.ln1.data(), w.qkv_w, w.qkv_b, N, C, 3 * Ca);
  k::attention_forward(a.atty.data(), a.att.data(), a.qkv.data(), sh.B, sh.T, Ca, sh.NHl());
  k::matmul_forward<float>(s.proj.data(), a.atty.data(), w.attproj_w, nullptr, N, Ca, C);
  tp_allreduce(split, s.proj.data(), NC);
  k::residual_bias_forward(a.resid2.data(), x, s.proj.data(), w.attproj_b, N, C);
  // MLP branch: c_fc column-parallel (this rank's hidden units), c_proj row-parallel
  k::layernorm_forward(a.ln2.data(), a.ln2_mean.data(), a.ln2_rstd.data(), a.resid2.data(),
                       w.ln2_w, w.ln2_b, N, C);
  k::matmul_forward<float>(a.fch.data(), a.ln2.data(), w.fc_w, nullptr, N, C, H);
  k::bias_gelu_forward(a.fch_gelu.data(), a.fch.data(), w.fc_b, N, H);
  k::matmul_forward<float>(s.proj.data(), a.fch_gelu.data(), w.fcproj_w, nullptr, N, H, C);
  tp_allreduce(split, s.proj.data(), NC);
  k::residual_bias_forward(a.out.data(), a.resid2.data(), s.proj.data(), w.fcproj_b, N, C);
}

void block_backward(float* dres, BlockScratch& s, const BlockView<float*>& g,
                    const BlockView<const float*>& w, const BlockActivations& a,
                    const float* x, const BlockShape& sh, const TensorSplit* split) {
  const int N = static_cast<int>(sh.N()), C = sh.C, Ca = sh.Ca(), H = sh.H();
  const size_t NC = sh.N() * C;
  // MLP branch: dres is d(out); the residual passes it to resid2 unchanged.
  // Scratch gradients are overwritten (Into::overwrite), never accumulated.
  k::matmul_backward(s.dfch_gelu.data(), g.fcproj_w, g.fcproj_b, dres, a.fch_gelu.data(),
                     w.fcproj_w, N, H, C, k::Into::overwrite);
  // c_fc's bias gradient is summed in the GELU's pass over dfch
  k::bias_gelu_backward(s.dfch.data(), g.fc_b, a.fch.data(), s.dfch_gelu.data(), N, H);
  k::matmul_backward<float>(s.dln.data(), g.fc_w, nullptr, s.dfch.data(), a.ln2.data(), w.fc_w,
                            N, C, H, k::Into::overwrite);
  tp_allreduce(split, s.dln.data(), NC);  // column-parallel: d(ln2) is a partial sum
  k::layernorm_backward(dres, g.ln2_w, g.ln2_b, s.dln.data(), a.resid2.data(), w.ln2_w,
                        a.ln2_mean.data(), a.ln2_rstd.data(), N, C);
  // now dres = d(resid2); attention branch, the residual passes it on to x.
  k::matmul_backward(s.datty.data(), g.attproj_w, g.attproj_b, dres, a.atty.data(),
                     w.attproj_w, N, Ca, C, k::Into::overwrite);
  k::attention_backward(s.dqkv.data(), s.datt.data(), s.datty.data(), a.qkv.data(),
                        a.att.data(), sh.B, sh.T, Ca, sh.NHl(), k::Into::overwrite);
  k::matmul_backward(s.dln.data(), g.qkv_w, g.qkv_b, s.dqkv.data(), a.ln1.data(), w.qkv_w, N,
                     C, 3 * Ca, k::Into::overwrite);
  tp_allreduce(split, s.dln.data(), NC);  // column-parallel: d(ln1) is a partial sum
  k::layernorm_backward(dres, g.ln1_w, g.ln1_b, s.dln.data(), x, w.ln1_w, a.ln1_mean.data(),
                        a.ln1_rstd.data(), N, C);
}

}  // namespace plait
