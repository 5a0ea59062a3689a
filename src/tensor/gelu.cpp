// GELU, tanh approximation (GPT-2's):
//   gelu(x) = 0.5 x (1 + tanh(u)),  u = s (x + 0.044715 x^3),  s = sqrt(2/pi)
//   gelu'(x) = 0.5 (1 + tanh(u)) + 0.5 x (1 - tanh(u)^2) s (1 + 3 * 0.044715 x^2)
#include "tensor/kernels.h"
#include "tensor/vecmath.h"

namespace plait::kernels {
namespace {

template <class F>
constexpr F kS = F(0.79788456080286535587989211986876);  // sqrt(2/pi)
template <class F>
constexpr F kA = F(0.044715);

// gelu'(x)
template <class F>
[[gnu::always_inline]] inline F gelu_grad(F x) {
  const F u = kS<F> * (x + kA<F> * x * x * x);
  const F th = vec::tanh(u);
  const F sech2 = F(1) - th * th;
  return F(0.5) * (F(1) + th) + F(0.5) * x * sech2 * kS<F> * (F(1) + F(3) * kA<F> * x * x);
}

}  // namespace

template <class F>
void gelu_forward(F* out, const F* inp, size_t n) {
  // out[n], inp[n]
  for (size_t i = 0; i < n; i++) {
    const F x = inp[i];
    const F u = kS<F> * (x + kA<F> * x * x * x);
    out[i] = F(0.5) * x * (F(1) + vec::tanh(u));
  }
}

template <class F>
void gelu_backward(F* dinp, const F* inp, const F* dout, size_t n, Into mode) {
  // dinp[n], inp[n], dout[n]; two loops so that each vectorises without a branch
  if (mode == Into::accumulate)
    for (size_t i = 0; i < n; i++) dinp[i] += gelu_grad(inp[i]) * dout[i];
  else
    for (size_t i = 0; i < n; i++) dinp[i] = gelu_grad(inp[i]) * dout[i];
}

template <class F>
void bias_gelu_forward(F* out, F* pre, const F* bias, int N, int H) {
  // out[N,H], pre[N,H] (bias added in place), bias[H]; row by row, so a row of pre is
  // still in cache when the GELU reads it
  for (int n = 0; n < N; n++) {
    F* p = pre + size_t(n) * H;
    F* o = out + size_t(n) * H;
    for (int j = 0; j < H; j++) p[j] += bias[j];
    gelu_forward(o, p, size_t(H));
  }
}

template <class F>
void bias_gelu_backward(F* dpre, F* dbias, const F* pre, const F* dout, int N, int H) {
  // dpre[N,H] overwritten, dbias[H] or nullptr, pre[N,H], dout[N,H]
  for (int n = 0; n < N; n++) {
    const size_t off = size_t(n) * H;
    F* d = dpre + off;
    gelu_backward(d, pre + off, dout + off, size_t(H), Into::overwrite);
    if (dbias)
      for (int j = 0; j < H; j++) dbias[j] += d[j];  // rows in order, as matmul_backward
  }
}

#define PLAIT_INSTANTIATE(F)                                            \
  template void gelu_forward<F>(F*, const F*, size_t);                  \
  template void gelu_backward<F>(F*, const F*, const F*, size_t, Into); \
  template void bias_gelu_forward<F>(F*, F*, const F*, int, int);       \
  template void bias_gelu_backward<F>(F*, F*, const F*, const F*, int, int);
PLAIT_INSTANTIATE(float)
PLAIT_INSTANTIATE(double)
#undef PLAIT_INSTANTIATE

}  // namespace plait::kernels
