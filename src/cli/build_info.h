// What `plait --version` prints: one line per fact, each fact from one function, so
// a new fact (the CPU's ISA, the GEMM kernel) is one function and one line in
// version_text().
#pragma once
#include <string>

namespace plait::cli {

std::string version();     // the project's version (CMake's project(VERSION))
std::string git_commit();  // `git describe --always --dirty` when it was built
std::string build_type();  // CMake build type, compiler and flags
// All lines: "plait 0.1.0", then "  commit: ...", "  build: ...", "  cpu: ...",
// "  gemm: ..." (cli/machine_info.h), "  openblas: ...", "  mpi: ...".
std::string version_text();

}  // namespace plait::cli
