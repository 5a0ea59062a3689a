// Causal multi-head self-attention, fused per (batch, head): no GEMM calls.
//
// Head h of batch b reads strided views of qkv[B,T,3C] (row stride 3C):
//   q[T,hs] = qkv[b, :, h*hs ...], k = q + C, v = q + 2C
// and owns att[b,h] [T,T] (row stride T) and out[b, :, h*hs ...] [T,hs] (row stride C).
//
//   forward   pre = q.k^T / sqrt(hs);  att = causal softmax of pre (rows);  out = att.v
//   backward  datt = dout.v^T;  dpre = att * (datt - rowsum(att * datt));
//             dq += dpre.k / sqrt(hs);  dk += dpre^T.q / sqrt(hs);  dv += att^T.dout
//
// Why not GEMMs: at the demo's head size (32) one (batch, head) is ~0.5 MFLOP split
// into products of 32 x 32 x 32, where a BLAS call's fixed cost is as large as the
// work. Here every product is one register-tiled loop (`madd` below) over operands
// packed once per head into L1-sized panels, and the causal half is skipped exactly:
// row t reads columns [0, t] only, and the transposed products (dk, dv) column j rows
// [j, T) only.
//
// Order of sums: every output element is one accumulator summed in increasing index
// order, so results depend on neither the batch, nor the head, nor the tensor split:
// every layout computes each head's numbers identically.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "tensor/kernels.h"
#include "tensor/vecmath.h"

namespace plait::kernels {
namespace {

// One SIMD register of F (GCC/Clang vector extension: 16 floats or 8 doubles; the
// compiler splits it on narrower ISAs).
template <class F>
using Vec [[gnu::vector_size(64)]] = F;
template <class F>
constexpr int kW = int(64 / sizeof(F));  // lanes
constexpr int kR = 8;                   // rows per tile

int round_up(int n, int m) { return (n + m - 1) / m * m; }

template <class F>
Vec<F> load(const F* p) {
  Vec<F> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class F>
void store(F* p, Vec<F> v) {
  std::memcpy(p, &v, sizeof v);
}

// The one product loop: for each of kR rows r and J vectors of columns,
//   acc[r][j] += sum over i in [i0, i1) of a[r][i * is] * panel[i][x0 + j*kW ...]
// a[r]: row r of the left operand, its index i at stride `is` (1, or the row length of
// a matrix read transposed); panel: rows of length >= x0 + J*kW, row stride ps.
// kR*J accumulators stay in registers.
template <class F, int J>
[[gnu::always_inline]] inline void madd(Vec<F> (&acc)[kR][J], const F* const (&a)[kR],
                                        size_t is, int i0, int i1, const F* panel, size_t ps,
                                        int x0) {
  for (int i = i0; i < i1; i++) {
    Vec<F> p[J];
    for (int j = 0; j < J; j++) p[j] = load<F>(panel + i * ps + x0 + j * kW<F>);
    for (int r = 0; r < kR; r++) {
      const F x = a[r][i * is];
      for (int j = 0; j < J; j++) acc[r][j] += x * p[j];
    }
  }
}

// dst[r][c] (row stride ld, rows [0, nrows), columns [0, ncols)) = scale * acc, or
// += with add. Columns past ncols are dropped (panel padding).
template <class F, int J>
void put(F* dst, size_t ld, int nrows, int x0, int ncols, const Vec<F> (&acc)[kR][J], F scale,
         bool add) {
  for (int r = 0; r < nrows; r++) {
    F tmp[J * kW<F>];
    for (int j = 0; j < J; j++) store<F>(tmp + j * kW<F>, acc[r][j]);
    F* row = dst + r * ld + x0;
    const int n = std::min(J * kW<F>, ncols - x0);
    if (add)
      for (int c = 0; c < n; c++) row[c] += scale * tmp[c];
    else
      for (int c = 0; c < n; c++) row[c] = scale * tmp[c];
  }
}

// Which part of a product the causal mask leaves (row t of the left operand).
enum class Span {
  all,          // every index
  to_diag,      // indices [0, t]: the left row is zero after t (att, dpre)
  from_diag,    // indices [t, T): the left row is zero before t (att^T, dpre^T)
};

// out[t][c] (+)= scale * sum_i a[t][i] * panel[i][c] for rows t in [0, rows):
//   a: element (t, i) at a[t * lda + i * ia] (ia = 1: rows; lda = 1, ia = T: the
//      transpose of a T x T matrix), indices i in [0, K) cut by `reduce` (per tile of kR rows,
//      so a tile reads a few masked zeros on its diagonal, never past its last row);
//   panel: K rows, row stride ps, columns padded to a multiple of kW (zeros);
//   columns c in [0, ncols), or with cols = to_diag only [0, t] (per tile, the rest of
//   a tile's columns past a row's diagonal are written too: the caller masks them).
template <class F>
struct RowProduct {
  const F* a;
  size_t lda, ia;
  const F* panel;
  size_t ps;
  int rows, K, ncols;
  Span reduce = Span::all, cols = Span::all;

  void run(F* out, size_t ldo, F scale, bool add) const {
    for (int t0 = 0; t0 < rows; t0 += kR) {
      const int n = std::min(kR, rows - t0);
      const F* rp[kR];
      // a ragged last tile repeats its last row (valid memory; those results are dropped)
      for (int r = 0; r < kR; r++) rp[r] = a + (t0 + std::min(r, n - 1)) * lda;
      const int i0 = reduce == Span::from_diag ? t0 : 0;
      const int i1 = reduce == Span::to_diag ? t0 + n : K;
      const int nc = cols == Span::to_diag ? std::min(ncols, t0 + n) : ncols;
      F* o = out + t0 * ldo;
      int x0 = 0;
      for (; nc - x0 > kW<F>; x0 += 2 * kW<F>) tile<2>(o, ldo, n, rp, i0, i1, x0, nc, scale, add);
      if (x0 < nc) tile<1>(o, ldo, n, rp, i0, i1, x0, nc, scale, add);
    }
  }

 private:
  template <int J>
  void tile(F* out, size_t ldo, int n, const F* const (&rp)[kR], int i0, int i1, int x0, int nc,
            F scale, bool add) const {
    Vec<F> acc[kR][J] = {};
    madd<F, J>(acc, rp, ia, i0, i1, panel, ps, x0);
    put<F, J>(out, ldo, n, x0, nc, acc, scale, add);
  }
};

// dst[i][c] = src[c * lds + i] for i < n, c < m; dst rows of length ldd (>= m, the
// padding zeroed). Packs column-major views into the panels RowProduct reads.
template <class F>
void pack_transposed(F* dst, size_t ldd, const F* src, size_t lds, int n, int m) {
  for (int i = 0; i < n; i++) {
    F* d = dst + i * ldd;
    for (int c = 0; c < m; c++) d[c] = src[c * lds + i];
    std::fill(d + m, d + ldd, F(0));
  }
}

// dst[i][c] = src[i * lds + c]: n rows of m, padded to ldd with zeros.
template <class F>
void pack_rows(F* dst, size_t ldd, const F* src, size_t lds, int n, int m) {
  for (int i = 0; i < n; i++) {
    std::copy(src + i * lds, src + i * lds + m, dst + i * ldd);
    std::fill(dst + i * ldd + m, dst + (i + 1) * ldd, F(0));
  }
}

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

// drow[T] holds datt for row t, arow[T] the row's att; drow becomes dpre (the
// softmax's input gradient) over [0, t] and exactly 0 over (t, T).
template <class F>
void causal_softmax_backward_row(F* drow, const F* arow, int t, int T) {
  const int n = t + 1;
  const F s = vec::dot(arow, drow, n);
  for (int i = 0; i < n; i++) drow[i] = arow[i] * (drow[i] - s);
  for (int i = n; i < T; i++) drow[i] = 0;
}

// Per-thread scratch: one head's panels (~100 KiB at T = 128, hs = 32, float).
template <class F>
struct Scratch {
  std::vector<F> buf[4];
  F* operator[](int i) { return buf[i].data(); }
};
template <class F>
Scratch<F>& scratch(int T, int hs) {
  thread_local Scratch<F> s;
  const size_t Tp = round_up(T, kW<F>), hp = round_up(hs, kW<F>);
  const size_t n = std::max(Tp * hp, size_t(T) * hp);
  for (auto& v : s.buf)
    if (v.size() < n) v.resize(n);
  return s;
}

}  // namespace

template <class F>
void attention_forward(F* out, F* att, const F* qkv, int B, int T, int C, int NH) {
  // out[B,T,C], att[B,NH,T,T], qkv[B,T,3C]
  const int hs = C / NH, C3 = 3 * C;
  const int Tp = round_up(T, kW<F>), hp = round_up(hs, kW<F>);
  const F scale = F(1) / std::sqrt(F(hs));
  Scratch<F>& s = scratch<F>(T, hs);
  F *kT = s[0], *vp = s[1];  // kT [hs][Tp], vp [T][hp]
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < NH; h++) {
      const F* q = qkv + size_t(b) * T * C3 + size_t(h) * hs;  // [T,hs] stride 3C
      F* a = att + (size_t(b) * NH + h) * T * T;               // [T,T]
      pack_transposed(kT, Tp, q + C, C3, hs, T);
      pack_rows(vp, hp, q + 2 * C, C3, T, hs);
      // pre[t][j] = scale * q[t] . k[j], j <= t (columns up to the tile's diagonal)
      RowProduct<F>{q, size_t(C3), 1, kT, size_t(Tp), T, hs, T, Span::all, Span::to_diag}.run(
          a, T, scale, false);
      for (int t = 0; t < T; t++) causal_softmax_row(a + size_t(t) * T, t, T);
      // out[t] = sum_{j <= t} att[t][j] v[j]
      RowProduct<F>{a, size_t(T), 1, vp, size_t(hp), T, T, hs, Span::to_diag}.run(
          out + size_t(b) * T * C + size_t(h) * hs, C, F(1), false);
    }
  }
}

template <class F>
void attention_backward(F* dqkv, F* datt, const F* dout, const F* qkv, const F* att, int B,
                        int T, int C, int NH, Into mode) {
  // dqkv[B,T,3C], datt[B,NH,T,T] scratch, dout[B,T,C], qkv[B,T,3C], att[B,NH,T,T]
  const int hs = C / NH, C3 = 3 * C;
  const int Tp = round_up(T, kW<F>), hp = round_up(hs, kW<F>);
  const F scale = F(1) / std::sqrt(F(hs));
  // every element of dq, dk, dv is one tile's result (rows [0, T), columns [0, hs)):
  // overwriting writes all of dqkv
  const bool add = mode == Into::accumulate;
  Scratch<F>& s = scratch<F>(T, hs);
  F *vT = s[0], *kp = s[1], *qp = s[2], *dp = s[3];  // vT [hs][Tp]; kp, qp, dp [T][hp]
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < NH; h++) {
      const size_t qoff = size_t(b) * T * C3 + size_t(h) * hs;
      const F *q = qkv + qoff, *k = q + C, *v = q + 2 * C;  // [T,hs] stride 3C
      F *dq = dqkv + qoff, *dk = dq + C, *dv = dq + 2 * C;   // [T,hs] stride 3C
      const F* d = dout + size_t(b) * T * C + size_t(h) * hs;  // [T,hs] stride C
      const F* a = att + (size_t(b) * NH + h) * T * T;         // [T,T]
      F* da = datt + (size_t(b) * NH + h) * T * T;             // [T,T], becomes dpre
      pack_transposed(vT, Tp, v, C3, hs, T);
      pack_rows(kp, hp, k, C3, T, hs);
      pack_rows(qp, hp, q, C3, T, hs);
      pack_rows(dp, hp, d, C, T, hs);
      // datt[t][j] = d[t] . v[j], j <= t; then dpre over [0, t], zero after
      RowProduct<F>{d, size_t(C), 1, vT, size_t(Tp), T, hs, T, Span::all, Span::to_diag}.run(
          da, T, F(1), false);
      for (int t = 0; t < T; t++)
        causal_softmax_backward_row(da + size_t(t) * T, a + size_t(t) * T, t, T);
      // dq[t] += scale * sum_{j <= t} dpre[t][j] k[j]
      RowProduct<F>{da, size_t(T), 1, kp, size_t(hp), T, T, hs, Span::to_diag}.run(dq, C3, scale,
                                                                                 add);
      // dk[j] += scale * sum_{t >= j} dpre[t][j] q[t];  dv[j] += sum_{t >= j} att[t][j] d[t]
      RowProduct<F>{da, 1, size_t(T), qp, size_t(hp), T, T, hs, Span::from_diag}.run(dk, C3,
                                                                                      scale, add);
      RowProduct<F>{a, 1, size_t(T), dp, size_t(hp), T, T, hs, Span::from_diag}.run(dv, C3, F(1),
                                                                                   add);
    }
  }
}

#define PLAIT_INSTANTIATE(F)                                                            \
  template void attention_forward<F>(F*, F*, const F*, int, int, int, int);             \
  template void attention_backward<F>(F*, F*, const F*, const F*, const F*, int, int, int, \
                                      int, Into);
PLAIT_INSTANTIATE(float)
PLAIT_INSTANTIATE(double)
#undef PLAIT_INSTANTIATE

}  // namespace plait::kernels
