// --gemm and the OpenBLAS core check, as a user sees them.
#include <gtest/gtest.h>

#include <filesystem>

#include "run_plait.h"
#include "tensor/cpu.h"

namespace plait::test {
namespace {

namespace fs = std::filesystem;

std::string tiny_train(const TempDir& d, const std::string& run, const std::string& gemm) {
  return "train --data " + (d / "c.txt") +
         " --layers 1 --dim 32 --heads 2 --ctx 16 --batch 4 --steps 6 --checkpoint-every 3"
         " --no-progress --gemm " + gemm + " --checkpoint-dir " + (d / run);
}

std::string state(const TempDir& d, const std::string& run) {
  return slurp(d.path / run / "step-00000006" / "model.safetensors") +
         slurp(d.path / run / "step-00000006" / "optimizer.safetensors");
}

TEST(GemmCli, UnknownBackendIsOneLineExit2) {
  const Result r = run_plait("train --gemm mkl --steps 1");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--gemm: unknown GEMM backend 'mkl'"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
}

// Each backend resumes bit for bit; the two backends train the same model to float
// rounding, not bit for bit (their kernels sum in different orders).
TEST(GemmCli, EachBackendResumesBitForBit) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  for (const std::string gemm : {"onednn", "openblas"}) {
    SCOPED_TRACE(gemm);
    Result r = run_plait(tiny_train(d, gemm + "-full", gemm));
    ASSERT_EQ(r.code, 0) << r.err;
    r = run_plait(tiny_train(d, gemm + "-split", gemm) + " --stop-after 3");
    ASSERT_EQ(r.code, 0) << r.err;
    r = run_plait(tiny_train(d, gemm + "-split", gemm) + " --resume");
    ASSERT_EQ(r.code, 0) << r.err;
    const std::string full = state(d, gemm + "-full");
    EXPECT_GT(full.size(), 1000u);
    EXPECT_TRUE(full == state(d, gemm + "-split")) << "resumed run differs";
  }
  EXPECT_FALSE(state(d, "onednn-full") == state(d, "openblas-full"))
      << "--gemm had no effect";
}

// --precision bf16 trains where the CPU has bf16; where oneDNN may not use it (here
// forced by ONEDNN_MAX_CPU_ISA) it is refused with one line, exit 2.
TEST(GemmCli, Bf16TrainsOrIsRefusedWithOneLine) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const std::string args = tiny_train(d, "bf16", "onednn") + " --precision bf16";
  Result r = run_plait(args);
  if (has_bf16(cpu_info())) {
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(fs::exists(d.path / "bf16" / "step-00000006" / "model.safetensors"));
  }
  r = run_plait(args, "ONEDNN_MAX_CPU_ISA=AVX512_CORE");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--precision bf16: this CPU has no bf16"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  r = run_plait(tiny_train(d, "x", "openblas") + " --precision bf16");
  EXPECT_EQ(r.code, 2) << r.err;
}

// A generic OpenBLAS core forced by the user on a capable CPU: a loud warning.
TEST(GemmCli, GenericOpenBlasCoreIsWarnedAbout) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const Result r = run_plait(tiny_train(d, "run", "openblas"), "OPENBLAS_CORETYPE=Prescott");
  ASSERT_EQ(r.code, 0) << r.err;
  const bool capable = cpu_info().avx2;
  EXPECT_EQ(r.err.find("WARNING: OpenBLAS runs its generic 'Prescott' kernels") !=
                std::string::npos,
            capable)
      << r.err;
}

}  // namespace
}  // namespace plait::test
