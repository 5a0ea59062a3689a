// attention_cached_forward (decode_kernels.h): per head, the scores of the new rows
// against the cached keys, a causal softmax per row, and the weighted sum of the
// cached values. One new row (a decode step) is a dot product per cached position and
// one scaled add per position: no GEMM call for a 1 x hs x T product. Several new rows
// (a prompt, or a window recomputed after it slid) use two GEMMs per head.
#include <algorithm>
#include <cmath>

#include "tensor/blas.h"
#include "tensor/decode_kernels.h"
#include "tensor/vecmath.h"

namespace plait::kernels {
namespace {

// row[0..n) becomes softmax(row[0..n)); row[n..width) becomes 0.
template <class F>
void softmax_prefix(F* row, int n, int width) {
  const F m = vec::max(row, n);
  for (int i = 0; i < n; i++) row[i] = vec::exp(row[i] - m);
  const F inv = F(1) / vec::sum(row, n);
  for (int i = 0; i < n; i++) row[i] *= inv;
  for (int i = n; i < width; i++) row[i] = 0;
}

// One query row, one head: o[hs] = softmax(scale * q.k^T) . v over Tk positions.
template <class F>
void one_row_head(F* o, F* a, const F* q, const F* k, const F* v, int Tk, int C, int hs,
                  F scale) {
  for (int t = 0; t < Tk; t++) a[t] = scale * vec::dot(q, k + size_t(t) * C, hs);
  softmax_prefix(a, Tk, Tk);
  std::fill(o, o + hs, F(0));
  for (int t = 0; t < Tk; t++) {
    const F w = a[t];
    const F* vt = v + size_t(t) * C;
    for (int j = 0; j < hs; j++) o[j] += w * vt[j];
  }
}

}  // namespace

template <class F>
void attention_cached_forward(F* out, int ldo, F* att, const F* q, int ldq, const F* kc,
                              const F* vc, int n, int past, int C, int NH) {
  const int hs = C / NH, Tk = past + n;
  const F scale = F(1) / std::sqrt(F(hs));
  for (int h = 0; h < NH; h++) {
    const F* qh = q + size_t(h) * hs;   // [n,hs] stride ldq
    const F* kh = kc + size_t(h) * hs;  // [Tk,hs] stride C
    const F* vh = vc + size_t(h) * hs;  // [Tk,hs] stride C
    F* oh = out + size_t(h) * hs;       // [n,hs] stride ldo
    if (n == 1) {
      one_row_head(oh, att, qh, kh, vh, Tk, C, hs, scale);
      continue;
    }
    // att[n,Tk] = scale * q . k^T; row i keeps columns [0, past+i]
    gemm(Op::N, Op::T, n, Tk, hs, scale, qh, ldq, kh, C, F(0), att, Tk);
    for (int i = 0; i < n; i++) softmax_prefix(att + size_t(i) * Tk, past + i + 1, Tk);
    // o[n,hs] = att . v
    gemm(Op::N, Op::N, n, hs, Tk, F(1), att, Tk, vh, C, F(0), oh, ldo);
  }
}

#define PLAIT_INSTANTIATE(F)                                                              \
  template void attention_cached_forward<F>(F*, int, F*, const F*, int, const F*, const F*, \
                                            int, int, int, int);
PLAIT_INSTANTIATE(float)
PLAIT_INSTANTIATE(double)
#undef PLAIT_INSTANTIATE

}  // namespace plait::kernels
