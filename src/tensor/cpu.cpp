#include "tensor/cpu.h"

#include <cpuid.h>

#include <cstdint>
#include <cstring>

namespace plait {
namespace {

struct Regs {
  unsigned a = 0, b = 0, c = 0, d = 0;
};

Regs cpuid(unsigned leaf, unsigned sub = 0) {
  Regs r;
  if (!__get_cpuid_count(leaf, sub, &r.a, &r.b, &r.c, &r.d)) return Regs{};
  return r;
}

bool bit(unsigned reg, int n) { return (reg >> n) & 1u; }

// XCR0: which register states the OS saves on a context switch.
uint64_t xcr0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}

CpuInfo detect() {
  CpuInfo cpu;
  const Regs v = cpuid(0);
  char vendor[13] = {};
  std::memcpy(vendor + 0, &v.b, 4);
  std::memcpy(vendor + 4, &v.d, 4);
  std::memcpy(vendor + 8, &v.c, 4);
  cpu.vendor = vendor;
  if (cpuid(0x80000000).a >= 0x80000004) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; i++) {
      const Regs r = cpuid(0x80000002 + i);
      std::memcpy(brand + 16 * i, &r, 16);
    }
    cpu.brand = brand;
    while (!cpu.brand.empty() && cpu.brand.back() == ' ') cpu.brand.pop_back();
    while (!cpu.brand.empty() && cpu.brand.front() == ' ') cpu.brand.erase(0, 1);
  }
  const unsigned max_leaf = v.a;
  const Regs f1 = cpuid(1);
  const bool osxsave = bit(f1.c, 27), fma = bit(f1.c, 12);
  const uint64_t xcr = osxsave ? xcr0() : 0;
  const bool os_avx = (xcr & 0x6) == 0x6;            // XMM, YMM
  const bool os_avx512 = os_avx && (xcr & 0xe0) == 0xe0;  // opmask, ZMM hi/lo
  const bool os_amx = (xcr & 0x60000) == 0x60000;    // XTILECFG, XTILEDATA
  if (max_leaf < 7) return cpu;
  const Regs f7 = cpuid(7, 0), f71 = cpuid(7, 1);
  cpu.avx2 = os_avx && fma && bit(f7.b, 5);
  cpu.avx512 = os_avx512 && bit(f7.b, 16) && bit(f7.b, 17) && bit(f7.b, 30) && bit(f7.b, 31);
  cpu.avx512_bf16 = cpu.avx512 && bit(f71.a, 5);
  cpu.amx_bf16 = os_amx && bit(f7.d, 22) && bit(f7.d, 24);
  return cpu;
}

}  // namespace

const CpuInfo& cpu_info() {
  static const CpuInfo cpu = detect();
  return cpu;
}

std::string isa_summary(const CpuInfo& cpu) {
  std::string s = cpu.avx512 ? "AVX-512" : cpu.avx2 ? "AVX2" : "SSE/AVX (no AVX2)";
  if (cpu.avx512_bf16) s += " + AVX512_BF16";
  if (cpu.amx_bf16) s += " + AMX-BF16";
  return s;
}

bool has_bf16(const CpuInfo& cpu) { return cpu.avx512_bf16 || cpu.amx_bf16; }

}  // namespace plait
