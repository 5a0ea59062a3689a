// A thin, typed face on CBLAS (OpenBLAS), row-major throughout.
//
//   gemm: C[M,N] = alpha * op(A)[M,K] . op(B)[K,N] + beta * C[M,N]
//   op(X) is X (Op::N) or X^T (Op::T). lda, ldb, ldc are the row strides of A, B, C
//   as STORED (so for Op::T, A is stored [K, >=M]); views into wider rows (one head
//   of a qkv row, one column block of att) are expressed by the strides.
#pragma once

namespace plait {

enum class Op { N, T };

void gemm(Op ta, Op tb, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc);
void gemm(Op ta, Op tb, int M, int N, int K, double alpha, const double* A, int lda,
          const double* B, int ldb, double beta, double* C, int ldc);

// Threads the BLAS may use in one call (process-wide; openblas_set_num_threads).
void set_blas_threads(int n);
int blas_threads();

// The BLAS's own sgemm speed on this machine, now: C[M,N] = A[M,K] . B[N,K]^T (the
// shape of matmul_forward) timed reps times after one warm-up call; the median in
// GFLOP/s (2*M*N*K flops per call). The yardstick for kernel and training speed.
double measure_sgemm_gflops(int M, int N, int K, int reps);

}  // namespace plait
