// bench train's PyTorch peer: found in the repository's tools/, and skipped with one
// line (not silently) when PyTorch cannot run.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "run_plait.h"

namespace plait::test {
namespace {

const std::string kTiny =
    "bench train --layers 1 --dim 32 --heads 2 --ctx 16 --batch 2 --steps 1 --pairs 1";

TEST(PeerCli, TheRepositorysPeerIsFoundAndRunsOrSaysWhyNot) {
  const Result r = run_plait(kTiny + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  if (j.contains("pytorch_skipped")) {  // a machine without python3-torch
    EXPECT_EQ(j["pytorch_skipped"], "PyTorch is missing (Debian: apt-get install python3-torch)");
    EXPECT_NE(r.err.find("PyTorch comparison skipped"), std::string::npos) << r.err;
  } else {
    EXPECT_EQ(j["pytorch_pairs"], 1);
    EXPECT_GT(j["step_time_over_pytorch"].get<double>(), 0.0);
    // The peer's OpenBLAS runs on --blas-threads (1) threads, not on every core (0: the
    // peer's BLAS is not OpenBLAS).
    const int blas_threads = j["pytorch_blas_threads"].get<int>();
    EXPECT_TRUE(blas_threads == 1 || blas_threads == 0) << blas_threads;
    EXPECT_FALSE(j["pytorch_blas"].get<std::string>().empty());
  }
}

TEST(PeerCli, PeerWithoutPyTorchIsSkippedWithOneLine) {
  TempDir d;
  write_file(d / "peer.py", "import sys\nsys.exit(3)\n");  // what the peer does without torch
  const Result r = run_plait(kTiny + " --peer " + (d / "peer.py"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("bench train: PyTorch comparison skipped: PyTorch is missing"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.out.find("PyTorch's"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace plait::test
