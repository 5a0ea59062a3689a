#include "tensor/openblas_core.h"

#include <cblas.h>
#include <strings.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace plait {
namespace {

// OpenBLAS cores with AVX2 (or wider) sgemm kernels.
bool is_avx2_core(std::string_view core) {
  for (const char* good : {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"})
    if (core.size() == std::string_view(good).size() &&
        strncasecmp(core.data(), good, core.size()) == 0)
      return true;
  return false;
}

}  // namespace

std::string openblas_core_fix(const CpuInfo& cpu, std::string_view corename) {
  if (!cpu.avx2 || is_avx2_core(corename)) return "";
  if (cpu.avx512 && cpu.avx512_bf16) return "Cooperlake";
  if (cpu.avx512) return "SkylakeX";
  return "Haswell";
}

std::string openblas_core() { return openblas_get_corename(); }

std::string openblas_core_warning() {
  const std::string core = openblas_core();
  const std::string fix = openblas_core_fix(cpu_info(), core);
  if (fix.empty()) return "";
  const char* forced = std::getenv("OPENBLAS_CORETYPE");
  return "WARNING: OpenBLAS runs its generic '" + core + "' kernels on this " +
         isa_summary(cpu_info()) + " CPU" +
         (forced ? std::string(" (OPENBLAS_CORETYPE=") + forced + ")" : std::string()) +
         ": sgemm is several times slower; use --gemm onednn or OPENBLAS_CORETYPE=" + fix;
}

void ensure_openblas_core(char** argv) {
  const std::string fix = openblas_core_fix(cpu_info(), openblas_core());
  if (fix.empty()) return;
  if (!std::getenv("OPENBLAS_CORETYPE")) {
    setenv("OPENBLAS_CORETYPE", fix.c_str(), 1);
    execv("/proc/self/exe", argv);  // returns only on failure: then warn instead
    unsetenv("OPENBLAS_CORETYPE");
  }
  std::fprintf(stderr, "plait: %s\n", openblas_core_warning().c_str());
}

}  // namespace plait
