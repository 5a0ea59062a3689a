// `plait plan` prints the command that runs its recommendation, and that command,
// at the tiny scale on this machine, trains.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "run_plait.h"

namespace plait::test {
namespace {

namespace fs = std::filesystem;

// Shell-quoted, for run_plait (which goes through a shell).
std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

TEST(PlanCli, JsonCommandTrainsAtTheTinyScale) {
  const Result p = run_plait("plan --model tiny --cluster local --tokens 2K --json");
  ASSERT_EQ(p.code, 0) << p.err;
  const auto j = nlohmann::json::parse(p.out);
  ASSERT_TRUE(j.contains("command")) << p.out;
  ASSERT_TRUE(j.contains("mpi_command")) << p.out;
  const auto argv = j["command_argv"].get<std::vector<std::string>>();
  ASSERT_GE(argv.size(), 2u);
  EXPECT_EQ(argv[0], "build/plait");
  EXPECT_EQ(argv[1], "train");
  EXPECT_EQ(j["mpi_command"].get<std::string>().rfind("mpirun -np ", 0), 0u);
  EXPECT_NE(j["mpi_command"].get<std::string>().find(" train --backend mpi"), std::string::npos);
  // The command's layout is the recommendation's.
  const auto& rec = j["recommended"];
  const std::string cmd = j["command"];
  if (rec["devices"].get<int>() > 1 && rec["tp"] == 1 && rec["pp"] == 1) {
    EXPECT_NE(cmd.find("--workers " + std::to_string(rec["dp"].get<int>())), std::string::npos);
  }
  // Run it (the binary under test in place of build/plait), in a scratch directory.
  TempDir d;
  std::string args;
  for (size_t i = 1; i < argv.size(); ++i) args.append(" ").append(quoted(argv[i]));
  const Result r = run_plait(args + " --no-progress", "cd " + d.path.string() + " &&");
  ASSERT_EQ(r.code, 0) << cmd << "\n" << r.err;
  EXPECT_TRUE(fs::exists(d.path / "runs" / "tiny" / "latest")) << cmd;
}

TEST(PlanCli, TextNamesTheCommandsAndTheTreeConcludesWithTheRecommendation) {
  const Result r =
      run_plait("plan --model gpt2-124m --cluster a100-80gb --gpus 16 --tokens 10B");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("  build/plait train --layers 12 --dim 768"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  mpirun -np 16 build/plait train --backend mpi"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Recommended: dp 16 x tp 1 x pp 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("=> data parallelism"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace plait::test

namespace plait::test {
namespace {

TEST(PlanCli, ExplainBreaksTheStepDownAndTheClassesAddUp) {
  const Result r = run_plait(
      "plan --model llama-65b --cluster a100-80gb --gpus 64 --tokens 10B --framework flash "
      "--explain --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["framework"]["name"], "flash");
  const auto& e = j["explain"];
  double sum = 0;
  std::vector<std::string> names;
  for (const auto& k : e["classes"]) {
    sum += k["seconds"].get<double>();
    names.push_back(k["class"]);
  }
  EXPECT_NEAR(sum / e["step_s"].get<double>(), 1, 1e-9);
  EXPECT_EQ(names, (std::vector<std::string>{"gemm", "attention", "elementwise", "tensor_comm",
                                             "pipeline_comm", "bubble", "dp_comm_exposed",
                                             "optimizer"}));
  const Result t = run_plait(
      "plan --model gpt3-175b --cluster a100-80gb --gpus 1024 --tokens 300B --explain");
  ASSERT_EQ(t.code, 0) << t.err;
  for (const char* line : {"Explain: one step", "GEMM", "exposed DP comm", "total"})
    EXPECT_NE(t.out.find(line), std::string::npos) << line << "\n" << t.out;
}

TEST(PlanCli, UnknownFrameworkIsOneLineExitTwo) {
  const Result r = run_plait("plan --model tiny --cluster a100-80gb --tokens 1M --framework jax");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--framework"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("megatron"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace plait::test
