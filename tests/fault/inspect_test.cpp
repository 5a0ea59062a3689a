// `plait inspect` end to end: runs the built binary (skipped when it is not built, since
// test_fault does not depend on it).
#include <gtest/gtest.h>

#include <cstdio>
#include <sys/wait.h>

#include "fault/checkpoint.h"
#include "fault_helpers.h"

namespace plait {
namespace {

using fault_testing::read_bytes;
using fault_testing::TempDir;
using fault_testing::write_bytes;

struct Result {
  int rc;
  std::string out;  // stdout and stderr
};

Result run_plait(const std::string& args) {
  std::string cmd = std::string(PLAIT_BINARY) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while (p && (n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = p ? ::pclose(p) : -1;
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

class Inspect : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(PLAIT_BINARY)) GTEST_SKIP() << "plait is not built";
    std::vector<float> w(12, 0.5f);
    CheckpointData d;
    d.step = 42;
    d.config = {{"layers", 2}, {"dim", 32}, {"heads", 4}, {"ctx", 16}, {"vocab", 256}};
    d.options = {{"seed", 1}};
    d.model = {{"transformer.wte.weight", {3, 4}, w, {}, {}}};
    d.opt_m = d.opt_v = d.model;
    ckpt = save_checkpoint(run.path(), d, 0);
  }
  TempDir run;
  std::filesystem::path ckpt;
};

TEST_F(Inspect, PrintsConfigStepTensorsAndChecksums) {
  Result r = run_plait("inspect " + run.path().string());
  EXPECT_EQ(r.rc, 0) << r.out;
  for (const char* s : {"step-00000042", "layers 2, dim 32, heads 4, ctx 16, vocab 256",
                        "transformer.wte.weight", "[3, 4]", "m.transformer.wte.weight", "ok"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << " not in:\n" << r.out;
}

TEST_F(Inspect, Json) {
  Result r = run_plait("inspect --json " + ckpt.string());
  ASSERT_EQ(r.rc, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["step"], 42);
  EXPECT_EQ(j["tensors"][0]["shape"], nlohmann::json({3, 4}));
  EXPECT_EQ(j["files"][0]["verified"], true);
  EXPECT_EQ(j["parameters"], 12);
}

TEST_F(Inspect, DamagedCheckpointExitsTwoWithOneLine) {
  std::string b = read_bytes(ckpt / "model.safetensors");
  b.back() ^= 1;
  write_bytes(ckpt / "model.safetensors", b);
  Result r = run_plait("inspect " + run.path().string());
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("checksum mismatch"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << r.out;
}

TEST_F(Inspect, SingleSafetensorsFile) {
  Result r = run_plait("inspect " + (ckpt / "model.safetensors").string());
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("plait.step"), std::string::npos) << r.out;
}

// One rank holding "transformer.h.0.attn.c_attn.weight" [6, 2] as three row boxes
// (stored as the name, name@1, name@2) and m/v likewise: inspect lists each tensor once,
// by its full name, with its three shards.
TEST_F(Inspect, SeveralBoxesOfATensorListedByFullName) {
  TempDir multi;
  const std::string name = "transformer.h.0.attn.c_attn.weight";
  std::vector<float> rows(12, 0.25f);
  std::span<const float> all(rows);
  CheckpointData d;
  d.step = 3;
  d.config = {{"layers", 1}, {"dim", 2}, {"heads", 1}, {"ctx", 4}, {"vocab", 256}};
  for (int64_t k = 0; k < 3; ++k)  // rows [2k, 2k+2), last box first: order is free
    d.model.push_back({name, {2, 2}, all.subspan(4 * (2 - k), 4), {6, 2}, {2 * (2 - k), 0}});
  d.opt_m = d.opt_v = d.model;
  save_checkpoint(multi.path(), d, 0);
  Result r = run_plait("inspect --json " + multi.path().string());
  ASSERT_EQ(r.rc, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["tensors"].size(), 3u) << r.out;
  const std::vector<std::string> want = {name, "m." + name, "v." + name};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(j["tensors"][i]["name"], want[i]);
    EXPECT_EQ(j["tensors"][i]["shape"], nlohmann::json({6, 2}));
    EXPECT_EQ(j["tensors"][i]["shards"].size(), 3u);
  }
  EXPECT_EQ(j["tensors"][1]["shards"][0]["key"], "m." + name);  // rows [4, 6): given first
  EXPECT_EQ(j["tensors"][1]["shards"][0]["begin"], nlohmann::json({4, 0}));
  EXPECT_EQ(j["tensors"][1]["shards"][2]["key"], "m." + name + "@2");
  Result text = run_plait("inspect " + multi.path().string());
  EXPECT_EQ(text.rc, 0) << text.out;
  EXPECT_EQ(text.out.find("@1"), std::string::npos) << text.out;
}

}  // namespace
}  // namespace plait
