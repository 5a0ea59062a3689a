#include "tensor/kernels.h"

namespace plait::kernels {

template <class F>
void residual_forward(F* out, const F* a, const F* b, size_t n) {
  // out[n], a[n], b[n]; out may alias a or b
  for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

template <class F>
void residual_backward(F* da, F* db, const F* dout, size_t n) {
  // da[n], db[n], dout[n]
  for (size_t i = 0; i < n; i++) {
    da[i] += dout[i];
    db[i] += dout[i];
  }
}

template <class F>
void residual_bias_forward(F* out, const F* a, const F* b, const F* bias, int N, int C) {
  // out[N,C], a[N,C], b[N,C], bias[C] or nullptr; out may alias a or b
  if (!bias) return residual_forward(out, a, b, size_t(N) * C);
  for (int n = 0; n < N; n++) {
    const size_t off = size_t(n) * C;
    for (int j = 0; j < C; j++) out[off + j] = a[off + j] + (b[off + j] + bias[j]);
  }
}

#define PLAIT_INSTANTIATE(F)                                                 \
  template void residual_forward<F>(F*, const F*, const F*, size_t);         \
  template void residual_backward<F>(F*, F*, const F*, size_t);              \
  template void residual_bias_forward<F>(F*, const F*, const F*, const F*, int, int);
PLAIT_INSTANTIATE(float)
PLAIT_INSTANTIATE(double)
#undef PLAIT_INSTANTIATE

}  // namespace plait::kernels
