#include "tensor/cpu.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "tensor/openblas_core.h"

namespace plait::test {
namespace {

// The kernel's view of the CPU flags (first "flags" line of /proc/cpuinfo).
std::string proc_flags() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("flags", 0) == 0) return line + " ";
  return "";
}

bool has_flag(const std::string& flags, const std::string& f) {
  return flags.find(" " + f + " ") != std::string::npos;
}

TEST(Cpu, CpuidAgreesWithTheKernelsFlags) {
  const std::string flags = proc_flags();
  ASSERT_FALSE(flags.empty()) << "no flags line in /proc/cpuinfo";
  const CpuInfo& cpu = cpu_info();
  EXPECT_EQ(cpu.avx2, has_flag(flags, "avx2") && has_flag(flags, "fma"));
  EXPECT_EQ(cpu.avx512, has_flag(flags, "avx512f") && has_flag(flags, "avx512bw") &&
                            has_flag(flags, "avx512dq") && has_flag(flags, "avx512vl"));
  EXPECT_EQ(cpu.avx512_bf16, cpu.avx512 && has_flag(flags, "avx512_bf16"));
  EXPECT_EQ(cpu.amx_bf16, has_flag(flags, "amx_bf16") && has_flag(flags, "amx_tile"));
  EXPECT_FALSE(cpu.vendor.empty());
}

TEST(Cpu, IsaSummaryNamesTheWidestIsa) {
  CpuInfo c;
  EXPECT_EQ(isa_summary(c), "SSE/AVX (no AVX2)");
  c.avx2 = true;
  EXPECT_EQ(isa_summary(c), "AVX2");
  c.avx512 = c.avx512_bf16 = true;
  EXPECT_EQ(isa_summary(c), "AVX-512 + AVX512_BF16");
  EXPECT_TRUE(has_bf16(c));
}

// A generic OpenBLAS core on a capable CPU is replaced by the widest core it can run.
TEST(Cpu, OpenBlasCoreFixReplacesGenericCoresOnly) {
  CpuInfo old;  // no AVX2: whatever OpenBLAS picked stays
  EXPECT_EQ(openblas_core_fix(old, "Prescott"), "");
  CpuInfo avx2;
  avx2.avx2 = true;
  EXPECT_EQ(openblas_core_fix(avx2, "Prescott"), "Haswell");
  EXPECT_EQ(openblas_core_fix(avx2, "Haswell"), "");
  EXPECT_EQ(openblas_core_fix(avx2, "zen"), "");  // OpenBLAS compares names case-blind
  CpuInfo skx = avx2;
  skx.avx512 = true;
  EXPECT_EQ(openblas_core_fix(skx, "Nehalem"), "SkylakeX");
  EXPECT_EQ(openblas_core_fix(skx, "SkylakeX"), "");
  CpuInfo cpx = skx;
  cpx.avx512_bf16 = true;
  EXPECT_EQ(openblas_core_fix(cpx, "Prescott"), "Cooperlake");
  EXPECT_EQ(openblas_core_fix(cpx, "Sandybridge"), "Cooperlake");
}

// This process: OpenBLAS's choice is already fine, or the warning says why not.
TEST(Cpu, OpenBlasCoreOnThisMachineIsCheckedConsistently) {
  const bool generic = !openblas_core_fix(cpu_info(), openblas_core()).empty();
  EXPECT_EQ(openblas_core_warning().empty(), !generic) << openblas_core();
}

}  // namespace
}  // namespace plait::test
