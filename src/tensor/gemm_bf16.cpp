// Float products computed in bf16 (--precision bf16): both operands are rounded to
// bf16 (round to nearest even) into per-thread scratch, then one oneDNN matmul
// primitive multiplies them with f32 accumulation and writes f32 results, applying
// alpha (output scale) and beta (a sum post-op) itself. Everything outside the
// products (master weights, gradients' sums, LayerNorm, softmax, the optimizer) stays
// fp32. Primitives are created once per shape and cached per thread: a model has a
// handful of fixed shapes.
//
// Determinism: as for dnnl_sgemm (gemm_onednn.cpp), a fixed thread count and ISA
// give the same kernel and the same order of sums, so the results repeat bit for bit.
#include <omp.h>

#include <bit>
#include <cstdint>
#include <map>
#include <oneapi/dnnl/dnnl.hpp>
#include <tuple>
#include <vector>

#include "tensor/gemm_backends.h"
#include "util/error.h"

namespace plait::detail {
namespace {

using dnnl::memory;
using Key = std::tuple<int, int, int, int, int, int, float, float>;  // ta tb M N K ldc alpha beta

struct Cached {
  dnnl::matmul prim;
  memory src, wei, dst;
};

dnnl::engine& cpu_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// rows x cols of `x` (row stride ld) into dense bf16 [rows, cols], nearest even.
void to_bf16(std::vector<uint16_t>& out, const float* x, int rows, int cols, int ld) {
  out.resize(size_t(rows) * cols);
  for (int r = 0; r < rows; r++) {
    const float* src = x + size_t(r) * ld;
    uint16_t* dst = out.data() + size_t(r) * cols;
    for (int c = 0; c < cols; c++) {
      const uint32_t bits = std::bit_cast<uint32_t>(src[c]);
      dst[c] = static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
    }
  }
}

// The logical [rows, cols] operand over a dense buffer stored as given (transposed
// storage becomes column-major strides).
memory::desc operand(Op op, int rows, int cols) {
  const memory::dims strides = op == Op::N ? memory::dims{cols, 1} : memory::dims{1, rows};
  return memory::desc({rows, cols}, memory::data_type::bf16, strides);
}

Cached make(Op ta, Op tb, int M, int N, int K, int ldc, float alpha, float beta) {
  const memory::desc a = operand(ta, M, K), b = operand(tb, K, N);
  const memory::desc c({M, N}, memory::data_type::f32, memory::dims{ldc, 1});
  dnnl::primitive_attr attr;
  if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
  if (beta != 0.0f) {
    dnnl::post_ops po;
    po.append_sum(beta);
    attr.set_post_ops(po);
  }
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, cpu_engine());
  Cached k{dnnl::matmul(pd), memory(a, cpu_engine(), nullptr), memory(b, cpu_engine(), nullptr),
           memory(c, cpu_engine(), nullptr)};
  return k;
}

}  // namespace

void onednn_bf16_gemm(int threads, Op ta, Op tb, int M, int N, int K, float alpha,
                      const float* A, int lda, const float* B, int ldb, float beta, float* C,
                      int ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {  // no product: C = beta C (the matmul needs K > 0)
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) {
        float& c = C[size_t(i) * ldc + j];
        c = beta == 0 ? 0.0f : beta * c;
      }
    return;
  }
  thread_local int applied = 0;
  if (threads > 0 && threads != applied) {
    omp_set_dynamic(0);
    omp_set_num_threads(threads);
    applied = threads;
  }
  thread_local std::vector<uint16_t> a16, b16;
  thread_local std::map<Key, Cached> cache;
  thread_local dnnl::stream stream(cpu_engine());
  // Stored shapes: A is [M,K] (N) or [K,M] (T); B is [K,N] (N) or [N,K] (T).
  to_bf16(a16, A, ta == Op::N ? M : K, ta == Op::N ? K : M, lda);
  to_bf16(b16, B, tb == Op::N ? K : N, tb == Op::N ? N : K, ldb);
  const Key key{int(ta), int(tb), M, N, K, ldc, alpha, beta};
  auto it = cache.find(key);
  try {
    if (it == cache.end()) it = cache.emplace(key, make(ta, tb, M, N, K, ldc, alpha, beta)).first;
    Cached& k = it->second;
    k.src.set_data_handle(a16.data());
    k.wei.set_data_handle(b16.data());
    k.dst.set_data_handle(C);
    k.prim.execute(stream,
                   {{DNNL_ARG_SRC, k.src}, {DNNL_ARG_WEIGHTS, k.wei}, {DNNL_ARG_DST, k.dst}});
    stream.wait();
  } catch (const dnnl::error& e) {
    throw RuntimeError(std::string("oneDNN bf16 matmul failed: ") + e.what() + " (M " +
                       std::to_string(M) + " N " + std::to_string(N) + " K " +
                       std::to_string(K) + ")");
  }
}

bool onednn_has_bf16() {
  // ISA values are bit sets: an ISA with every bit of avx512_core_bf16 includes it.
  const int want = static_cast<int>(dnnl::cpu_isa::avx512_core_bf16);
  return (static_cast<int>(dnnl::get_effective_cpu_isa()) & want) == want;
}

}  // namespace plait::detail
