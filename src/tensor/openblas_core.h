// OpenBLAS picks its kernels ONCE, when the library is loaded (before main), from
// its own table of CPU models; a CPU it does not know (a new model, or a VM that
// reports a generic name) gets a generic pre-AVX2 core ("Prescott") that runs sgemm
// several times slower. OPENBLAS_CORETYPE overrides the choice, but only if it is in
// the environment when the library loads. So plait checks the choice against CPUID
// at startup and, when it is generic on an AVX2 or AVX-512 CPU, re-executes itself
// with the right OPENBLAS_CORETYPE (the PyTorch peer inherits it too).
#pragma once
#include <string>
#include <string_view>

#include "tensor/cpu.h"

namespace plait {

// The OPENBLAS_CORETYPE to force when `corename` (openblas_get_corename()) is not an
// AVX2-or-better core on a CPU that has AVX2 or AVX-512; "" when the choice is fine.
std::string openblas_core_fix(const CpuInfo& cpu, std::string_view corename);

// The core OpenBLAS chose in this process.
std::string openblas_core();

// First thing in main(): applies openblas_core_fix by re-executing this program
// (execv of /proc/self/exe with the same argv) with OPENBLAS_CORETYPE set. When the
// variable is already set (by the user, or by the re-execution) and still names a
// generic core, prints a loud warning on stderr instead. Returns unless it re-executed.
void ensure_openblas_core(char** argv);

// The warning line (without newline) for a generic OpenBLAS core on this CPU, or ""
// when OpenBLAS's choice is fine. `plait --version` and `bench train` print it.
std::string openblas_core_warning();

}  // namespace plait
