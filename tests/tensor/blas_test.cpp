#include "tensor/blas.h"

#include <cmath>
#include <thread>

#include "check.h"
#include "util/error.h"

namespace plait::test {
namespace {

// C[M,N] = alpha op(A) op(B) + beta C on strided views, against naive loops.
template <class F>
void check_gemm(Op ta, Op tb) {
  const int M = 5, N = 7, K = 3, pad = 2;
  const int lda = (ta == Op::N ? K : M) + pad, ldb = (tb == Op::N ? N : K) + pad, ldc = N + pad;
  Rng rng(91);
  const Vec A = random_vec(size_t(ta == Op::N ? M : K) * lda, rng);
  const Vec B = random_vec(size_t(tb == Op::N ? K : N) * ldb, rng);
  const Vec C0 = random_vec(size_t(M) * ldc, rng);
  const double alpha = 0.75, beta = -1.5;
  auto a = [&](int i, int k) { return ta == Op::N ? A[i * lda + k] : A[k * lda + i]; };
  auto b = [&](int k, int j) { return tb == Op::N ? B[k * ldb + j] : B[j * ldb + k]; };
  const std::vector<F> fA(A.begin(), A.end()), fB(B.begin(), B.end());
  std::vector<F> C(C0.begin(), C0.end());
  gemm(ta, tb, M, N, K, F(alpha), fA.data(), lda, fB.data(), ldb, F(beta), C.data(), ldc);
  for (int i = 0; i < M; i++) {
    for (int j = 0; j < ldc; j++) {
      double want = C0[i * ldc + j];  // the padding columns stay untouched
      if (j < N) {
        double s = 0;
        for (int k = 0; k < K; k++) s += a(i, k) * b(k, j);
        want = alpha * s + beta * want;
      }
      ASSERT_NEAR(C[i * ldc + j], want, sizeof(F) == 4 ? 1e-5 : 1e-13) << i << "," << j;
    }
  }
}

// Selects a float GEMM backend for one test, restoring the previous one after.
struct UseBackend {
  GemmBackend before = gemm_backend();
  explicit UseBackend(GemmBackend b) { set_gemm_backend(b); }
  ~UseBackend() { set_gemm_backend(before); }
};

constexpr GemmBackend kBackends[] = {GemmBackend::onednn, GemmBackend::openblas};

TEST(Blas, GemmEveryTransposeFloatAndDouble) {
  for (GemmBackend b : kBackends) {
    SCOPED_TRACE(gemm_backend_name(b));
    UseBackend use(b);
    for (Op ta : {Op::N, Op::T})
      for (Op tb : {Op::N, Op::T}) {
        check_gemm<float>(ta, tb);
        check_gemm<double>(ta, tb);
      }
  }
}

// bf16 products: operands rounded to 8 bits of mantissa, sums in f32. Against the
// double-precision answer, every transpose, strided views, alpha and beta.
TEST(Blas, Bf16ProductsMatchToBf16Rounding) {
  if (!bf16_supported()) {
    EXPECT_THROW(set_gemm_precision(Precision::bf16), UsageError);
    GTEST_SKIP() << "no bf16 on this CPU: refusal checked";
  }
  set_gemm_precision(Precision::bf16);
  for (Op ta : {Op::N, Op::T})
    for (Op tb : {Op::N, Op::T}) {
      const int M = 37, N = 29, K = 50, pad = 3;
      const int lda = (ta == Op::N ? K : M) + pad, ldb = (tb == Op::N ? N : K) + pad, ldc = N + pad;
      Rng rng(94);
      const Vec A = random_vec(size_t(ta == Op::N ? M : K) * lda, rng);
      const Vec B = random_vec(size_t(tb == Op::N ? K : N) * ldb, rng);
      const Vec C0 = random_vec(size_t(M) * ldc, rng);
      for (const auto& [alpha, beta] : {std::pair{1.0, 0.0}, {1.0, 1.0}, {0.5, -2.0}}) {
        FVec C = to_float(C0);
        const FVec fA = to_float(A), fB = to_float(B);
        gemm(ta, tb, M, N, K, float(alpha), fA.data(), lda, fB.data(), ldb, float(beta), C.data(),
             ldc);
        FVec again = to_float(C0);
        gemm(ta, tb, M, N, K, float(alpha), fA.data(), lda, fB.data(), ldb, float(beta),
             again.data(), ldc);
        EXPECT_EQ(C, again) << "bf16 products must repeat bit for bit";
        for (int i = 0; i < M; i++)
          for (int j = 0; j < ldc; j++) {
            double want = C0[i * ldc + j];
            if (j < N) {
              double s = 0, mag = 0;
              for (int k = 0; k < K; k++) {
                const double a = ta == Op::N ? A[i * lda + k] : A[k * lda + i];
                const double b = tb == Op::N ? B[k * ldb + j] : B[j * ldb + k];
                s += a * b;
                mag += std::fabs(a * b);
              }
              // each operand off by <= 2^-9 relative: the product by < 2^-8 of |a b|
              const double tol = 4e-3 * std::fabs(alpha) * mag + 1e-5;
              ASSERT_NEAR(C[i * ldc + j], alpha * s + beta * want, tol) << i << "," << j;
            } else {
              ASSERT_EQ(C[i * ldc + j], float(want)) << "padding column " << j << " written";
            }
          }
      }
    }
  EXPECT_THROW(set_gemm_backend(GemmBackend::openblas), UsageError);
  set_gemm_precision(Precision::fp32);
}

TEST(Blas, OneDnnIsTheDefaultAndNamesParse) {
  EXPECT_EQ(gemm_backend(), GemmBackend::onednn);
  EXPECT_EQ(parse_gemm_backend("openblas"), GemmBackend::openblas);
  EXPECT_EQ(parse_gemm_backend("onednn"), GemmBackend::onednn);
  EXPECT_THROW(parse_gemm_backend("mkl"), UsageError);
  EXPECT_NE(gemm_kernel(GemmBackend::onednn).find("oneDNN"), std::string::npos);
  EXPECT_NE(gemm_kernel(GemmBackend::openblas).find("OpenBLAS"), std::string::npos);
}

// The training products' shapes (the demo model's c_fc forward and its two backward
// products, with beta 1 as the kernels use it): both backends agree to float rounding,
// and each repeats itself bit for bit at 1 and 2 threads (exact resume relies on it).
TEST(Blas, BackendsAgreeAndRepeatBitForBit) {
  const int N = 256, C = 64, OC = 256;
  Rng rng(93);
  const FVec inp = to_float(random_vec(size_t(N) * C, rng));
  const FVec w = to_float(random_vec(size_t(OC) * C, rng));
  const FVec dout = to_float(random_vec(size_t(N) * OC, rng));
  const FVec seed = to_float(random_vec(size_t(OC) * C, rng));
  auto run = [&](GemmBackend b, int threads) {
    UseBackend use(b);
    const int before = blas_threads();
    set_blas_threads(threads);
    FVec out(size_t(N) * OC), dinp(size_t(N) * C), dw = seed;
    gemm(Op::N, Op::T, N, OC, C, 1.0f, inp.data(), C, w.data(), C, 0.0f, out.data(), OC);
    gemm(Op::N, Op::N, N, C, OC, 1.0f, dout.data(), OC, w.data(), C, 1.0f, dinp.data(), C);
    gemm(Op::T, Op::N, OC, C, N, 1.0f, dout.data(), OC, inp.data(), C, 1.0f, dw.data(), C);
    set_blas_threads(before);
    FVec all = out;
    all.insert(all.end(), dinp.begin(), dinp.end());
    all.insert(all.end(), dw.begin(), dw.end());
    return all;
  };
  const FVec ref = run(GemmBackend::openblas, 1);
  for (GemmBackend b : kBackends)
    for (int threads : {1, 2}) {
      SCOPED_TRACE(std::string(gemm_backend_name(b)) + " threads " + std::to_string(threads));
      const FVec first = run(b, threads);
      EXPECT_EQ(run(b, threads), first);
      for (size_t i = 0; i < ref.size(); i++)
        ASSERT_NEAR(first[i], ref[i], 1e-4 * (1 + std::fabs(ref[i]))) << i;
    }
}

// Workers of the threads transport call the BLAS at once from their own threads.
TEST(Blas, ConcurrentCallsFromThreadsGiveSerialResults) {
  for (GemmBackend b : kBackends) {
  SCOPED_TRACE(gemm_backend_name(b));
  UseBackend use(b);
  const int M = 96, N = 80, K = 64, workers = 4;
  Rng rng(92);
  std::vector<FVec> A, B, want, got(workers, FVec(size_t(M) * N));
  for (int w = 0; w < workers; w++) {
    A.push_back(to_float(random_vec(size_t(M) * K, rng)));
    B.push_back(to_float(random_vec(size_t(N) * K, rng)));
    want.emplace_back(size_t(M) * N);
    gemm(Op::N, Op::T, M, N, K, 1.0f, A[w].data(), K, B[w].data(), K, 0.0f, want[w].data(), N);
  }
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; w++)
    threads.emplace_back([&, w] {
      for (int rep = 0; rep < 20; rep++)
        gemm(Op::N, Op::T, M, N, K, 1.0f, A[w].data(), K, B[w].data(), K, 0.0f, got[w].data(),
             N);
    });
  for (auto& t : threads) t.join();
  for (int w = 0; w < workers; w++) EXPECT_EQ(got[w], want[w]) << "worker " << w;
  }
}

TEST(Blas, ThreadsCanBeSet) {
  const int before = blas_threads();
  set_blas_threads(1);
  EXPECT_EQ(blas_threads(), 1);
  set_blas_threads(before);
  EXPECT_EQ(blas_threads(), before);
}

TEST(Blas, MeasuredSgemmSpeedIsPositive) {
  for (GemmBackend b : kBackends) {
    const double g = measure_sgemm_gflops(b, 64, 48, 32, 3);
    EXPECT_TRUE(std::isfinite(g));
    EXPECT_GT(g, 0.0);
  }
  EXPECT_EQ(gemm_backend(), GemmBackend::onednn);  // measuring another leaves the choice
}

}  // namespace
}  // namespace plait::test
