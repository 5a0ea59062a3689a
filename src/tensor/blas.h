// A thin, typed face on the GEMM backends, row-major throughout.
//
//   gemm: C[M,N] = alpha * op(A)[M,K] . op(B)[K,N] + beta * C[M,N]
//   op(X) is X (Op::N) or X^T (Op::T). lda, ldb, ldc are the row strides of A, B, C
//   as STORED (so for Op::T, A is stored [K, >=M]); views into wider rows (one head
//   of a qkv row, one column block of att) are expressed by the strides.
//
// Backends (float): oneDNN's dnnl_sgemm (the default: its kernels are chosen from
// CPUID, so no CPU-model table can drop it to a generic path) or OpenBLAS's
// cblas_sgemm (--gemm openblas). Double products (the gradient checks) always go
// through OpenBLAS's dgemm. The backend is chosen once per process, before training.
//
// Determinism: for a fixed backend and thread count, every product is computed in
// the same order run after run, so results are bit-identical (docs/PERFORMANCE.md,
// "GEMM backends": which settings this relies on).
#pragma once
#include <string>

namespace plait {

enum class Op { N, T };

void gemm(Op ta, Op tb, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc);
void gemm(Op ta, Op tb, int M, int N, int K, double alpha, const double* A, int lda,
          const double* B, int ldb, double beta, double* C, int ldc);

enum class GemmBackend { onednn, openblas };

// The process's float GEMM backend (default oneDNN). Set it before any thread runs
// products (the CLI does, from --gemm).
void set_gemm_backend(GemmBackend b);
GemmBackend gemm_backend();
const char* gemm_backend_name(GemmBackend b);  // "onednn" | "openblas"
// "onednn" or "openblas"; anything else is a UsageError naming `what` (the flag).
GemmBackend parse_gemm_backend(const std::string& s, const std::string& what = "--gemm");

// What runs the products: library, version and the kernel family it chose here,
// e.g. "oneDNN 2.6.3, jit sgemm for avx512_core_bf16" or
// "OpenBLAS 0.3.21, Cooperlake kernels".
std::string gemm_kernel(GemmBackend b);

// The precision of float products. bf16: operands rounded to bf16, products summed
// in f32 (oneDNN's matmul; AVX512_BF16 or AMX); everything else stays fp32.
enum class Precision { fp32, bf16 };
// UsageError (one line) when bf16 is asked for and oneDNN cannot run bf16 kernels on
// this CPU, or with the OpenBLAS backend. Set it before any thread runs products.
void set_gemm_precision(Precision p);
Precision gemm_precision();
const char* precision_name(Precision p);  // "fp32" | "bf16"
Precision parse_precision(const std::string& s, const std::string& what = "--precision");
// Whether bf16 products can run here.
bool bf16_supported();

// Threads each worker's products may use (process-wide; every worker thread gets the
// same budget, so N workers x n threads is what the caller asks for). Applied to
// OpenBLAS (openblas_set_num_threads) and to oneDNN's OpenMP runtime (per calling
// thread, on its next product).
void set_blas_threads(int n);
int blas_threads();

// The backend's own sgemm speed on this machine, now: C[M,N] = A[M,K] . B[N,K]^T (the
// shape of matmul_forward) timed reps times after one warm-up call; the median in
// GFLOP/s (2*M*N*K flops per call). The yardstick for kernel and training speed.
double measure_sgemm_gflops(int M, int N, int K, int reps);
double measure_sgemm_gflops(GemmBackend b, int M, int N, int K, int reps);

}  // namespace plait
