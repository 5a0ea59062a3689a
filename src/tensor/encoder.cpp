// Token + position embedding. Every token id must lie in [0, V) of wte[V,C].
#include "tensor/kernels.h"

namespace plait::kernels {

template <class F>
void encoder_forward(F* out, const int32_t* tokens, const F* wte, const F* wpe, int B, int T,
                     int C) {
  // out[B,T,C], tokens[B,T], wte[V,C], wpe[T,C]
  for (int b = 0; b < B; b++) {
    for (int t = 0; t < T; t++) {
      F* o = out + (size_t(b) * T + t) * C;
      const F* te = wte + size_t(tokens[size_t(b) * T + t]) * C;
      const F* pe = wpe + size_t(t) * C;
      for (int i = 0; i < C; i++) o[i] = te[i] + pe[i];
    }
  }
}

template <class F>
void encoder_backward(F* dwte, F* dwpe, const F* dout, const int32_t* tokens, int B, int T,
                      int C) {
  // dwte[V,C], dwpe[T,C], dout[B,T,C], tokens[B,T]
  for (int b = 0; b < B; b++) {
    for (int t = 0; t < T; t++) {
      const F* d = dout + (size_t(b) * T + t) * C;
      F* dte = dwte + size_t(tokens[size_t(b) * T + t]) * C;
      F* dpe = dwpe + size_t(t) * C;
      for (int i = 0; i < C; i++) {
        dte[i] += d[i];
        dpe[i] += d[i];
      }
    }
  }
}

#define PLAIT_INSTANTIATE(F)                                                              \
  template void encoder_forward<F>(F*, const int32_t*, const F*, const F*, int, int, int); \
  template void encoder_backward<F>(F*, F*, const F*, const int32_t*, int, int, int);
PLAIT_INSTANTIATE(float)
PLAIT_INSTANTIATE(double)
#undef PLAIT_INSTANTIATE

}  // namespace plait::kernels
