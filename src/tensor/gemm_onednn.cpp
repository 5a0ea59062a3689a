// oneDNN's sgemm (row-major, like CBLAS). Its kernels are JIT-generated for the ISA
// oneDNN reads from CPUID itself, so no CPU-model table is involved.
//
// Threads: Debian's libdnnl uses the OpenMP runtime, whose thread count is a
// per-thread setting (an ICV of the calling thread). Each worker thread therefore
// applies the process's budget to itself on its first product and whenever it
// changes; a worker never inherits another's.
//
// Determinism: dnnl_sgemm splits a product over its threads by the thread count and
// the shape alone, and each thread sums in a fixed order, so a fixed thread count,
// the same CPU ISA (ONEDNN_MAX_CPU_ISA unchanged) and OpenMP's dynamic adjustment
// off (set here) give bit-identical results run after run.
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

#include "tensor/gemm_backends.h"
#include "util/error.h"

namespace plait::detail {
namespace {

thread_local int t_applied_threads = 0;

const char* isa_name(dnnl_cpu_isa_t isa) {
  switch (static_cast<int>(isa)) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "generic";
  }
}

}  // namespace

void onednn_sgemm(int threads, Op ta, Op tb, int M, int N, int K, float alpha, const float* A,
                  int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  if (threads > 0 && threads != t_applied_threads) {
    omp_set_dynamic(0);  // exactly `threads`: the work split (and so the sums) stays fixed
    omp_set_num_threads(threads);
    t_applied_threads = threads;
  }
  const dnnl_status_t st =
      dnnl_sgemm(ta == Op::N ? 'N' : 'T', tb == Op::N ? 'N' : 'T', M, N, K, alpha, A, lda, B,
                 ldb, beta, C, ldc);
  if (st != dnnl_success)
    throw RuntimeError("dnnl_sgemm failed (status " + std::to_string(int(st)) + ") for M " +
                       std::to_string(M) + " N " + std::to_string(N) + " K " + std::to_string(K));
}

std::string onednn_kernel() {
  const dnnl_version_t* v = dnnl_version();
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
         std::to_string(v->patch) + ", jit sgemm for " + isa_name(dnnl_get_effective_cpu_isa());
}

}  // namespace plait::detail
