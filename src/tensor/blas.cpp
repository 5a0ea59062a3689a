// The backend switch, the thread budget and the sgemm yardstick. The backends
// themselves: gemm_onednn.cpp, gemm_openblas.cpp.
#include "tensor/blas.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <vector>

#include "tensor/gemm_backends.h"
#include "util/error.h"

namespace plait {
namespace {

std::atomic<GemmBackend> g_backend{GemmBackend::onednn};
// 0 until set: then each backend keeps its own default (OpenBLAS: OPENBLAS_NUM_THREADS
// or the cores; oneDNN: OpenMP's, OMP_NUM_THREADS or the cores).
std::atomic<int> g_threads{0};
std::atomic<Precision> g_precision{Precision::fp32};

}  // namespace

void gemm(Op ta, Op tb, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc) {
  if (g_precision.load(std::memory_order_relaxed) == Precision::bf16)
    detail::onednn_bf16_gemm(g_threads.load(std::memory_order_relaxed), ta, tb, M, N, K, alpha,
                             A, lda, B, ldb, beta, C, ldc);
  else if (g_backend.load(std::memory_order_relaxed) == GemmBackend::onednn)
    detail::onednn_sgemm(g_threads.load(std::memory_order_relaxed), ta, tb, M, N, K, alpha, A,
                         lda, B, ldb, beta, C, ldc);
  else
    detail::openblas_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm(Op ta, Op tb, int M, int N, int K, double alpha, const double* A, int lda,
          const double* B, int ldb, double beta, double* C, int ldc) {
  detail::openblas_dgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void set_gemm_backend(GemmBackend b) {
  if (b == GemmBackend::openblas && g_precision.load() == Precision::bf16)
    throw UsageError("--precision bf16 needs --gemm onednn (OpenBLAS has no bf16 products)");
  g_backend.store(b);
}

void set_gemm_precision(Precision p) {
  if (p == Precision::bf16 && !bf16_supported())
    throw UsageError("--precision bf16: this CPU has no bf16 matmul support (needs AVX512_BF16 "
                     "or AMX-BF16, as oneDNN sees it); use --precision fp32");
  if (p == Precision::bf16 && g_backend.load() == GemmBackend::openblas)
    throw UsageError("--precision bf16 needs --gemm onednn (OpenBLAS has no bf16 products)");
  g_precision.store(p);
}

Precision gemm_precision() { return g_precision.load(); }

const char* precision_name(Precision p) { return p == Precision::bf16 ? "bf16" : "fp32"; }

Precision parse_precision(const std::string& s, const std::string& what) {
  for (Precision p : {Precision::fp32, Precision::bf16})
    if (s == precision_name(p)) return p;
  throw UsageError(what + ": unknown precision '" + s + "' (fp32 or bf16)");
}

bool bf16_supported() { return detail::onednn_has_bf16(); }

GemmBackend gemm_backend() { return g_backend.load(); }

const char* gemm_backend_name(GemmBackend b) {
  switch (b) {
    case GemmBackend::onednn: return "onednn";
    case GemmBackend::openblas: return "openblas";
  }
  return "?";
}

GemmBackend parse_gemm_backend(const std::string& s, const std::string& what) {
  for (GemmBackend b : {GemmBackend::onednn, GemmBackend::openblas})
    if (s == gemm_backend_name(b)) return b;
  throw UsageError(what + ": unknown GEMM backend '" + s + "' (onednn or openblas)");
}

std::string gemm_kernel(GemmBackend b) {
  if (b == GemmBackend::openblas) return detail::openblas_kernel();
  return detail::onednn_kernel() +
         (gemm_precision() == Precision::bf16 ? ", bf16 matmul (f32 sums)" : "");
}

void set_blas_threads(int n) {
  n = std::max(1, n);
  g_threads.store(n);
  detail::openblas_set_threads(n);
}

int blas_threads() {
  const int n = g_threads.load();
  return n > 0 ? n : detail::openblas_threads();
}

double measure_sgemm_gflops(int M, int N, int K, int reps) {
  return measure_sgemm_gflops(gemm_backend(), M, N, K, reps);
}

double measure_sgemm_gflops(GemmBackend b, int M, int N, int K, int reps) {
  // fp32 products of backend b, whatever the process's precision and backend.
  // A[M,K], B[N,K], C[M,N]; small non-zero values keep denormals out of the timing.
  std::vector<float> A(size_t(M) * K), B(size_t(N) * K), C(size_t(M) * N);
  for (size_t i = 0; i < A.size(); i++) A[i] = float(i % 7) * 0.125f - 0.375f;
  for (size_t i = 0; i < B.size(); i++) B[i] = float(i % 5) * 0.25f - 0.5f;
  auto run = [&] {
    if (b == GemmBackend::onednn)
      detail::onednn_sgemm(g_threads.load(), Op::N, Op::T, M, N, K, 1.0f, A.data(), K, B.data(),
                           K, 0.0f, C.data(), N);
    else
      detail::openblas_sgemm(Op::N, Op::T, M, N, K, 1.0f, A.data(), K, B.data(), K, 0.0f,
                             C.data(), N);
  };
  run();  // warm-up: page faults, the backend's buffers and JIT
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
