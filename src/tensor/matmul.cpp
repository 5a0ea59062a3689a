// Linear layer, weights [out, in] (PyTorch's layout): every product is one GEMM.
//   forward   out[N,OC]     = inp[N,C] . weight[OC,C]^T (+ bias)
//   backward  dinp[N,C]    += dout[N,OC] . weight[OC,C]
//             dweight[OC,C] += dout[N,OC]^T . inp[N,C]
//             dbias[OC]     += sum over rows of dout
#include "tensor/blas.h"
#include "tensor/kernels.h"

namespace plait::kernels {

template <class F>
void matmul_forward(F* out, const F* inp, const F* weight, const F* bias, int N, int C,
                    int OC) {
  // out[N,OC], inp[N,C], weight[OC,C], bias[OC] or nullptr
  F beta = 0;
  if (bias) {  // seed every row with the bias, then let the GEMM add onto it
    for (int n = 0; n < N; n++) {
      F* o = out + size_t(n) * OC;
      for (int j = 0; j < OC; j++) o[j] = bias[j];
    }
    beta = 1;
  }
  gemm(Op::N, Op::T, N, OC, C, F(1), inp, C, weight, C, beta, out, OC);
}

template <class F>
void matmul_backward(F* dinp, F* dweight, F* dbias, const F* dout, const F* inp,
                     const F* weight, int N, int C, int OC, Into dinp_mode) {
  // dinp[N,C] or nullptr, dweight[OC,C], dbias[OC] or nullptr,
  // dout[N,OC], inp[N,C], weight[OC,C]
  const F beta = dinp_mode == Into::accumulate ? F(1) : F(0);
  if (dinp) gemm(Op::N, Op::N, N, C, OC, F(1), dout, OC, weight, C, beta, dinp, C);
  gemm(Op::T, Op::N, OC, C, N, F(1), dout, OC, inp, C, F(1), dweight, C);
  if (dbias) {
    for (int n = 0; n < N; n++) {
      const F* d = dout + size_t(n) * OC;
      for (int j = 0; j < OC; j++) dbias[j] += d[j];
    }
  }
}

#define PLAIT_INSTANTIATE(F)                                                              \
  template void matmul_forward<F>(F*, const F*, const F*, const F*, int, int, int);       \
  template void matmul_backward<F>(F*, F*, F*, const F*, const F*, const F*, int, int, int, \
                                    Into);
PLAIT_INSTANTIATE(float)
PLAIT_INSTANTIATE(double)
#undef PLAIT_INSTANTIATE

}  // namespace plait::kernels
