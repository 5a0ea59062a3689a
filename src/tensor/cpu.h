// What this CPU can run, read once from CPUID (and XGETBV: the OS must save the
// wider registers too, or the instructions fault). The GEMM backends, the
// OpenBLAS core check and `--precision bf16` decide from it; `plait --version` and
// `bench train` print it, so a run never falls to a generic path unnoticed.
#pragma once
#include <string>

namespace plait {

struct CpuInfo {
  std::string vendor;  // "GenuineIntel", "AuthenticAMD", ...
  std::string brand;   // the model string ("AMD EPYC 9654 ...", or a VM's generic name)
  bool avx2 = false;       // AVX2 and FMA3, OS-enabled
  bool avx512 = false;     // AVX-512 F, BW, DQ, VL (Skylake-X level), OS-enabled
  bool avx512_bf16 = false;
  bool amx_bf16 = false;   // AMX tiles with bf16 (also needs the OS's permission per process)
};

// Detected once, on the first call; thread-safe.
const CpuInfo& cpu_info();

// "AVX-512 + AVX512_BF16" style summary of the widest vector ISA and the bf16 units.
std::string isa_summary(const CpuInfo& cpu);

// True when matmuls can run in bf16 natively (AVX512_BF16 or AMX-BF16).
bool has_bf16(const CpuInfo& cpu);

}  // namespace plait
