// What the machine and the GEMM backend are, as `plait --version` and the benches
// print them, and the --gemm option every computing command takes.
#pragma once
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace plait::cli {

// --gemm onednn|openblas: sets the process's GEMM backend when parsed (a bad name is
// a UsageError: exit 2, one line).
void add_gemm_option(CLI::App* cmd);
// --precision fp32|bf16: the same, for the products' precision (bf16 refused with one
// line on a CPU without bf16 support).
void add_precision_option(CLI::App* cmd);

// "cpu: AMD EPYC 9654 (AuthenticAMD), ISA AVX-512 + AVX512_BF16",
// "gemm: onednn (oneDNN 2.6.3, jit sgemm for avx512_core_bf16)", and OpenBLAS's
// warning line when its core is generic on this CPU.
std::vector<std::string> machine_lines();
// The same as JSON fields: cpu, isa, gemm, gemm_kernel, openblas_core.
nlohmann::json machine_json();

}  // namespace plait::cli
