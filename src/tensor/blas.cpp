#include "tensor/blas.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace plait {
namespace {

CBLAS_TRANSPOSE cblas_op(Op op) { return op == Op::N ? CblasNoTrans : CblasTrans; }

}  // namespace

void gemm(Op ta, Op tb, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc) {
  cblas_sgemm(CblasRowMajor, cblas_op(ta), cblas_op(tb), M, N, K, alpha, A, lda, B, ldb,
              beta, C, ldc);
}

void gemm(Op ta, Op tb, int M, int N, int K, double alpha, const double* A, int lda,
          const double* B, int ldb, double beta, double* C, int ldc) {
  cblas_dgemm(CblasRowMajor, cblas_op(ta), cblas_op(tb), M, N, K, alpha, A, lda, B, ldb,
              beta, C, ldc);
}

void set_blas_threads(int n) { openblas_set_num_threads(n); }

int blas_threads() { return openblas_get_num_threads(); }

double measure_sgemm_gflops(int M, int N, int K, int reps) {
  // A[M,K], B[N,K], C[M,N]; small non-zero values keep denormals out of the timing.
  std::vector<float> A(size_t(M) * K), B(size_t(N) * K), C(size_t(M) * N);
  for (size_t i = 0; i < A.size(); i++) A[i] = float(i % 7) * 0.125f - 0.375f;
  for (size_t i = 0; i < B.size(); i++) B[i] = float(i % 5) * 0.25f - 0.5f;
  auto run = [&] {
    gemm(Op::N, Op::T, M, N, K, 1.0f, A.data(), K, B.data(), K, 0.0f, C.data(), N);
  };
  run();  // warm-up: page faults, BLAS buffers
  std::vector<double> seconds;
  for (int r = 0; r < std::max(reps, 1); r++) {
    auto t0 = std::chrono::steady_clock::now();
    run();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return 2.0 * M * N * K / seconds[seconds.size() / 2] / 1e9;
}

}  // namespace plait
