// Causal multi-head self-attention, its products as GEMMs per (batch, head).
//
// Head h of batch b reads strided views of qkv[B,T,3C] (row stride 3C):
//   q[T,hs] = qkv[b, :, h*hs ...], k = q + C, v = q + 2C
// and owns att[b,h] [T,T] (row stride T) and out[b, :, h*hs ...] [T,hs] (row stride C).
//
//   forward   pre = q.k^T / sqrt(hs);  att = causal softmax of pre (rows);  out = att.v
//   backward  datt = dout.v^T;  dpre = att * (datt - rowsum(att * datt));
//             dq += dpre.k / sqrt(hs);  dk += dpre^T.q / sqrt(hs);  dv += att^T.dout
//
// Skipping the masked upper triangle: rows are cut into blocks of kBlock; row block
// [r0, r1) only needs columns [0, r1) (att[t, t2] = 0 for t2 > t), so its GEMMs stop
// there. The transposed products (dk, dv) are cut the same way by column block
// [c0, c1), which only needs rows [c0, T). That does about half the work of the full
// T x T products at T = 128 (5/8 with kBlock = 32), with entries past the diagonal
// inside a diagonal block set to exactly 0 before anything reads them.
#include <algorithm>
#include <cmath>

#include "tensor/blas.h"
#include "tensor/kernels.h"
#include "tensor/vecmath.h"

namespace plait::kernels {
namespace {

constexpr int kBlock = 32;

// row[T] holds pre-softmax scores; softmax over [0, t], zero over (t, T).
template <class F>
void causal_softmax_row(F* row, int t, int T) {
  const int n = t + 1;
  const F m = vec::max(row, n);
  for (int i = 0; i < n; i++) row[i] = vec::exp(row[i] - m);
  const F inv = F(1) / vec::sum(row, n);
  for (int i = 0; i < n; i++) row[i] *= inv;
  for (int i = n; i < T; i++) row[i] = 0;
}

// drow[width] holds datt for row t, arow[T] the row's att; drow becomes dpre
// (the softmax's input gradient) over [0, t] and exactly 0 over (t, width).
template <class F>
void causal_softmax_backward_row(F* drow, const F* arow, int t, int width) {
  const int n = t + 1;
  const F s = vec::dot(arow, drow, n);
  for (int i = 0; i < n; i++) drow[i] = arow[i] * (drow[i] - s);
  for (int i = n; i < width; i++) drow[i] = 0;
}

}  // namespace

template <class F>
void attention_forward(F* out, F* att, const F* qkv, int B, int T, int C, int NH) {
  // out[B,T,C], att[B,NH,T,T], qkv[B,T,3C]
  const int hs = C / NH, C3 = 3 * C;
  const F scale = F(1) / std::sqrt(F(hs));
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < NH; h++) {
      const F* q = qkv + size_t(b) * T * C3 + size_t(h) * hs;  // [T,hs] stride 3C
      const F* k = q + C;                                      // [T,hs] stride 3C
      const F* v = q + 2 * C;                                  // [T,hs] stride 3C
      F* a = att + (size_t(b) * NH + h) * T * T;               // [T,T]
      F* o = out + size_t(b) * T * C + size_t(h) * hs;         // [T,hs] stride C
      for (int r0 = 0; r0 < T; r0 += kBlock) {
        const int rn = std::min(kBlock, T - r0), r1 = r0 + rn;
        // a[r0:r1, 0:r1] = scale * q[r0:r1] . k[0:r1]^T
        gemm(Op::N, Op::T, rn, r1, hs, scale, q + size_t(r0) * C3, C3, k, C3, F(0),
             a + size_t(r0) * T, T);
        for (int t = r0; t < r1; t++) causal_softmax_row(a + size_t(t) * T, t, T);
        // o[r0:r1] = a[r0:r1, 0:r1] . v[0:r1]
        gemm(Op::N, Op::N, rn, hs, r1, F(1), a + size_t(r0) * T, T, v, C3, F(0),
             o + size_t(r0) * C, C);
      }
    }
  }
}

template <class F>
void attention_backward(F* dqkv, F* datt, const F* dout, const F* qkv, const F* att, int B,
                        int T, int C, int NH) {
  // dqkv[B,T,3C], datt[B,NH,T,T] scratch, dout[B,T,C], qkv[B,T,3C], att[B,NH,T,T]
  const int hs = C / NH, C3 = 3 * C;
  const F scale = F(1) / std::sqrt(F(hs));
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < NH; h++) {
      const size_t qoff = size_t(b) * T * C3 + size_t(h) * hs;
      const F *q = qkv + qoff, *k = q + C, *v = q + 2 * C;  // [T,hs] stride 3C
      F *dq = dqkv + qoff, *dk = dq + C, *dv = dq + 2 * C;   // [T,hs] stride 3C
      const F* d = dout + size_t(b) * T * C + size_t(h) * hs;  // [T,hs] stride C
      const F* a = att + (size_t(b) * NH + h) * T * T;         // [T,T]
      F* da = datt + (size_t(b) * NH + h) * T * T;             // [T,T], becomes dpre
      for (int r0 = 0; r0 < T; r0 += kBlock) {
        const int rn = std::min(kBlock, T - r0), r1 = r0 + rn;
        // da[r0:r1, 0:r1] = d[r0:r1] . v[0:r1]^T
        gemm(Op::N, Op::T, rn, r1, hs, F(1), d + size_t(r0) * C, C, v, C3, F(0),
             da + size_t(r0) * T, T);
        for (int t = r0; t < r1; t++)
          causal_softmax_backward_row(da + size_t(t) * T, a + size_t(t) * T, t, r1);
        // dq[r0:r1] += scale * da[r0:r1, 0:r1] . k[0:r1]
        gemm(Op::N, Op::N, rn, hs, r1, scale, da + size_t(r0) * T, T, k, C3, F(1),
             dq + size_t(r0) * C3, C3);
      }
      // Column blocks read only rows [c0, T) of da, all written by the loop above.
      for (int c0 = 0; c0 < T; c0 += kBlock) {
        const int cn = std::min(kBlock, T - c0), rows = T - c0;
        const size_t corner = size_t(c0) * T + c0;
        // dk[c0:c1] += scale * da[c0:T, c0:c1]^T . q[c0:T]
        gemm(Op::T, Op::N, cn, hs, rows, scale, da + corner, T, q + size_t(c0) * C3, C3, F(1),
             dk + size_t(c0) * C3, C3);
        // dv[c0:c1] += a[c0:T, c0:c1]^T . d[c0:T]
        gemm(Op::T, Op::N, cn, hs, rows, F(1), a + corner, T, d + size_t(c0) * C, C, F(1),
             dv + size_t(c0) * C3, C3);
      }
    }
  }
}

#define PLAIT_INSTANTIATE(F)                                                            \
  template void attention_forward<F>(F*, F*, const F*, int, int, int, int);             \
  template void attention_backward<F>(F*, F*, const F*, const F*, const F*, int, int, int, \
                                      int);
PLAIT_INSTANTIATE(float)
PLAIT_INSTANTIATE(double)
#undef PLAIT_INSTANTIATE

}  // namespace plait::kernels
