// LayerNorm over the last axis: out = (x - mean) * rstd * w + b, rstd = 1/sqrt(var + eps)
// with the biased variance (PyTorch's). Backward, with norm = (x - mean) * rstd and
// dnorm = w * dout (means over the row's C channels):
//   dx = rstd * (dnorm - mean(dnorm) - norm * mean(dnorm * norm))
#include <cmath>

#include "tensor/kernels.h"
#include "tensor/vecmath.h"

namespace plait::kernels {
namespace {

template <class F>
constexpr F kEps = F(1e-5);

}  // namespace

template <class F>
void layernorm_forward(F* out, F* mean, F* rstd, const F* inp, const F* w, const F* b, int N,
                       int C) {
  // out[N,C], mean[N], rstd[N], inp[N,C], w[C], b[C]; out must not alias inp
  for (int n = 0; n < N; n++) {
    const F* x = inp + size_t(n) * C;
    F* o = out + size_t(n) * C;
    const F m = vec::sum(x, C) / F(C);
    for (int i = 0; i < C; i++) o[i] = x[i] - m;  // two passes: no E[x^2]-m^2 cancellation
    const F s = F(1) / std::sqrt(vec::dot(o, o, C) / F(C) + kEps<F>);
    for (int i = 0; i < C; i++) o[i] = o[i] * s * w[i] + b[i];
    mean[n] = m;
    rstd[n] = s;
  }
}

template <class F>
void layernorm_backward(F* dinp, F* dw, F* db, const F* dout, const F* inp, const F* w,
                        const F* mean, const F* rstd, int N, int C, Into mode) {
  // dinp[N,C], dw[C], db[C], dout[N,C], inp[N,C], w[C], mean[N], rstd[N]
  for (int n = 0; n < N; n++) {
    const F* x = inp + size_t(n) * C;
    const F* d = dout + size_t(n) * C;
    F* dx = dinp + size_t(n) * C;
    const F m = mean[n], s = rstd[n];
    const F dnorm_mean = vec::dot(w, d, C) / F(C);
    const F dnorm_norm_mean =
        vec::sum_of<F>(C, [&](int i) { return w[i] * d[i] * ((x[i] - m) * s); }) / F(C);
    // Two loops, each with few enough pointers for the compiler's alias checks.
    for (int i = 0; i < C; i++) {
      db[i] += d[i];
      dw[i] += (x[i] - m) * s * d[i];
    }
    if (mode == Into::accumulate)
      for (int i = 0; i < C; i++)
        dx[i] += s * (w[i] * d[i] - dnorm_mean - (x[i] - m) * s * dnorm_norm_mean);
    else
      for (int i = 0; i < C; i++)
        dx[i] = s * (w[i] * d[i] - dnorm_mean - (x[i] - m) * s * dnorm_norm_mean);
  }
}

#define PLAIT_INSTANTIATE(F)                                                            \
  template void layernorm_forward<F>(F*, F*, F*, const F*, const F*, const F*, int, int); \
  template void layernorm_backward<F>(F*, F*, F*, const F*, const F*, const F*, const F*,   \
                                      const F*, int, int, Into);
PLAIT_INSTANTIATE(float)
PLAIT_INSTANTIATE(double)
#undef PLAIT_INSTANTIATE

}  // namespace plait::kernels
