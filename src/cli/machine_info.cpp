#include "cli/machine_info.h"

#include "tensor/blas.h"
#include "tensor/cpu.h"
#include "tensor/openblas_core.h"

namespace plait::cli {

void add_gemm_option(CLI::App* cmd) {
  cmd->add_option_function<std::string>(
         "--gemm", [](const std::string& s) { set_gemm_backend(parse_gemm_backend(s)); },
         "GEMM backend: onednn (default) or openblas")
      ->type_name("onednn|openblas");
}

void add_precision_option(CLI::App* cmd) {
  cmd->add_option_function<std::string>(
         "--precision", [](const std::string& s) { set_gemm_precision(parse_precision(s)); },
         "matmul precision: fp32 (default) or bf16 (fp32 weights, optimizer and sums)")
      ->type_name("fp32|bf16");
}

std::vector<std::string> machine_lines() {
  const CpuInfo& cpu = cpu_info();
  const GemmBackend b = gemm_backend();
  std::vector<std::string> lines = {
      "cpu: " + (cpu.brand.empty() ? std::string("unknown model") : cpu.brand) + " (" +
          cpu.vendor + "), ISA " + isa_summary(cpu),
      std::string("gemm: ") + gemm_backend_name(b) + " (" + gemm_kernel(b) + ")"};
  const std::string warning = openblas_core_warning();
  if (!warning.empty() && b == GemmBackend::openblas) lines.push_back(warning);
  return lines;
}

nlohmann::json machine_json() {
  const CpuInfo& cpu = cpu_info();
  const GemmBackend b = gemm_backend();
  return {{"cpu", cpu.brand}, {"isa", isa_summary(cpu)}, {"gemm", gemm_backend_name(b)},
          {"gemm_kernel", gemm_kernel(b)}, {"openblas_core", openblas_core()},
          {"precision", precision_name(gemm_precision())}};
}

}  // namespace plait::cli
