// OpenBLAS's CBLAS. Its kernels come from the core type it picks at load time from
// its own CPU-model table (tensor/openblas_core.h checks that choice).
#include <cblas.h>

#include "tensor/gemm_backends.h"

namespace plait::detail {
namespace {

CBLAS_TRANSPOSE cblas_op(Op op) { return op == Op::N ? CblasNoTrans : CblasTrans; }

}  // namespace

void openblas_sgemm(Op ta, Op tb, int M, int N, int K, float alpha, const float* A, int lda,
                    const float* B, int ldb, float beta, float* C, int ldc) {
  cblas_sgemm(CblasRowMajor, cblas_op(ta), cblas_op(tb), M, N, K, alpha, A, lda, B, ldb, beta,
              C, ldc);
}

void openblas_dgemm(Op ta, Op tb, int M, int N, int K, double alpha, const double* A, int lda,
                    const double* B, int ldb, double beta, double* C, int ldc) {
  cblas_dgemm(CblasRowMajor, cblas_op(ta), cblas_op(tb), M, N, K, alpha, A, lda, B, ldb, beta,
              C, ldc);
}

void openblas_set_threads(int n) { openblas_set_num_threads(n); }

int openblas_threads() { return openblas_get_num_threads(); }

std::string openblas_kernel() {
  std::string config = openblas_get_config();  // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..."
  const size_t sp = config.find(' ', config.find(' ') + 1);
  return config.substr(0, sp) + ", " + openblas_get_corename() + " kernels";
}

}  // namespace plait::detail
