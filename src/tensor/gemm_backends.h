// The two GEMM backends behind tensor/blas.h (internal to src/tensor).
#pragma once
#include <string>

#include "tensor/blas.h"

namespace plait::detail {

// oneDNN (gemm_onednn.cpp). threads: the budget for the calling thread (0: OpenMP's
// default); applied to that thread's OpenMP settings when it changes.
void onednn_sgemm(int threads, Op ta, Op tb, int M, int N, int K, float alpha, const float* A,
                  int lda, const float* B, int ldb, float beta, float* C, int ldc);
std::string onednn_kernel();
// bf16 products with f32 accumulation (gemm_bf16.cpp); the same threads contract.
void onednn_bf16_gemm(int threads, Op ta, Op tb, int M, int N, int K, float alpha,
                      const float* A, int lda, const float* B, int ldb, float beta, float* C,
                      int ldc);
// Whether oneDNN runs bf16 kernels here (the CPU has them and ONEDNN_MAX_CPU_ISA allows).
bool onednn_has_bf16();

// OpenBLAS (gemm_openblas.cpp).
void openblas_sgemm(Op ta, Op tb, int M, int N, int K, float alpha, const float* A, int lda,
                    const float* B, int ldb, float beta, float* C, int ldc);
void openblas_dgemm(Op ta, Op tb, int M, int N, int K, double alpha, const double* A, int lda,
                    const double* B, int ldb, double beta, double* C, int ldc);
void openblas_set_threads(int n);
int openblas_threads();
std::string openblas_kernel();

}  // namespace plait::detail
