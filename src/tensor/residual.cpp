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

#define PLAIT_INSTANTIATE(F)                                                 \
  template void residual_forward<F>(F*, const F*, const F*, size_t);         \
  template void residual_backward<F>(F*, F*, const F*, size_t);
PLAIT_INSTANTIATE(float)
PLAIT_INSTANTIATE(double)
#undef PLAIT_INSTANTIATE

}  // namespace plait::kernels
