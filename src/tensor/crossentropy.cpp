// Softmax + cross-entropy over the vocabulary, fused so the loss is computed from the
// log-sum-exp (never log of a rounded probability):
//   probs[n,v] = e^{z_v - max z} / S,  S = sum_v e^{z_v - max z}
//   loss[n]    = log S - (z_target - max z)
//   dz[n,v]    = (probs[n,v] - [v == target]) * dloss[n]
// Every target must lie in [0, V).
#include <cmath>

#include "tensor/kernels.h"
#include "tensor/vecmath.h"

namespace plait::kernels {

template <class F>
void softmax_crossentropy_forward(F* probs, F* losses, const F* logits,
                                  const int32_t* targets, int N, int V) {
  // probs[N,V], losses[N], logits[N,V], targets[N]
  for (int n = 0; n < N; n++) {
    const F* z = logits + size_t(n) * V;
    F* p = probs + size_t(n) * V;
    const F zmax = vec::max(z, V);
    for (int v = 0; v < V; v++) p[v] = vec::exp(z[v] - zmax);
    const F S = vec::sum(p, V);
    const F inv = F(1) / S;
    for (int v = 0; v < V; v++) p[v] *= inv;
    losses[n] = std::log(S) - (z[targets[n]] - zmax);
  }
}

template <class F>
void softmax_crossentropy_backward(F* dlogits, const F* probs, const int32_t* targets,
                                   const F* dlosses, int N, int V) {
  // dlogits[N,V], probs[N,V], targets[N], dlosses[N]
  for (int n = 0; n < N; n++) {
    const F* p = probs + size_t(n) * V;
    F* dz = dlogits + size_t(n) * V;
    const F dl = dlosses[n];
    for (int v = 0; v < V; v++) dz[v] += p[v] * dl;
    dz[targets[n]] -= dl;
  }
}

#define PLAIT_INSTANTIATE(F)                                                               \
  template void softmax_crossentropy_forward<F>(F*, F*, const F*, const int32_t*, int, int); \
  template void softmax_crossentropy_backward<F>(F*, const F*, const int32_t*, const F*, int, \
                                                 int);
PLAIT_INSTANTIATE(float)
PLAIT_INSTANTIATE(double)
#undef PLAIT_INSTANTIATE

}  // namespace plait::kernels
