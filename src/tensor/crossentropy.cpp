// Softmax + cross-entropy over the vocabulary, fused so the loss is computed from the
// log-sum-exp (never log of a rounded probability):
//   probs[n,v] = e^{z_v - max z} / S,  S = sum_v e^{z_v - max z}
//   loss[n]    = log S - (z_target - max z)
//   dz[n,v]    = (probs[n,v] - [v == target]) * dloss[n]
// Every target must lie in [0, V). Rows are Vp >= V apart (a vocabulary padded to a
// multiple of 64): columns [V, Vp) are masked, probability 0 and no gradient.
#include <cmath>

#include "tensor/kernels.h"
#include "tensor/vecmath.h"

namespace plait::kernels {

template <class F>
void softmax_crossentropy_forward(F* probs, F* losses, const F* logits,
                                  const int32_t* targets, int N, int V, int Vp) {
  // probs[N,Vp], losses[N], logits[N,Vp], targets[N]
  if (Vp < V) Vp = V;
  for (int n = 0; n < N; n++) {
    const F* z = logits + size_t(n) * Vp;
    F* p = probs + size_t(n) * Vp;
    for (int v = V; v < Vp; v++) p[v] = F(0);
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
                                   const F* dlosses, int N, int V, int Vp, Into mode) {
  // dlogits[N,Vp] (columns [V, Vp) untouched, or 0 when overwriting), probs[N,Vp],
  // targets[N], dlosses[N]
  if (Vp < V) Vp = V;
  for (int n = 0; n < N; n++) {
    const F* p = probs + size_t(n) * Vp;
    F* dz = dlogits + size_t(n) * Vp;
    const F dl = dlosses[n];
    if (mode == Into::accumulate) {
      for (int v = 0; v < V; v++) dz[v] += p[v] * dl;
    } else {  // 0 + x: the accumulating path's values into zeros, bit for bit
      for (int v = 0; v < V; v++) dz[v] = p[v] * dl;
      for (int v = V; v < Vp; v++) dz[v] = F(0);
    }
    dz[targets[n]] -= dl;
  }
}

#define PLAIT_INSTANTIATE(F)                                                               \
  template void softmax_crossentropy_forward<F>(F*, F*, const F*, const int32_t*, int, int, \
                                                int);                                       \
  template void softmax_crossentropy_backward<F>(F*, const F*, const int32_t*, const F*, int, \
                                                 int, int, Into);
PLAIT_INSTANTIATE(float)
PLAIT_INSTANTIATE(double)
#undef PLAIT_INSTANTIATE

}  // namespace plait::kernels
