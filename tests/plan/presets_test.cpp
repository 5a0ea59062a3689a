// Presets, custom models and clusters from JSON files, and their one-line errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "plan/cluster_spec.h"
#include "plan/model_spec.h"
#include "plan/units.h"
#include "util/error.h"

namespace plait::plan {
namespace {

class JsonFile : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    path_ = std::filesystem::temp_directory_path() /
            ("plait_plan_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
             "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".json");
    std::ofstream(path_) << text;
    return path_.string();
  }
  void TearDown() override { std::filesystem::remove(path_); }
  // The UsageError's message, which must be one line naming the file.
  std::string error_of(auto&& f, const std::string& file) {
    try {
      f();
    } catch (const UsageError& e) {
      std::string what = e.what();
      EXPECT_EQ(what.find('\n'), std::string::npos);
      EXPECT_NE(what.find(file), std::string::npos) << what;
      return what;
    }
    ADD_FAILURE() << "no UsageError";
    return "";
  }
  std::filesystem::path path_;
};

const char* kCluster = R"({"name": "lab", "devices_per_node": 4, "nodes": 2,
  "device": {"peak_tflops": 100, "efficiency": 0.4, "memory_gib": 24, "memory_bandwidth_gbps": 900},
  "intra": {"latency_us": 2, "bandwidth_gbps": 50}, "inter": {"latency_us": 10, "bandwidth_gbps": 12.5}})";

TEST(Presets, PublishedSizes) {
  const ModelSpec* g = find_model_preset("gpt3-175b");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->layers, 96);
  EXPECT_EQ(g->dim, 12288);
  EXPECT_EQ(g->heads, 96);
  EXPECT_EQ(g->ctx, 2048);
  EXPECT_EQ(g->vocab, 50257);
  for (const char* name : {"tiny", "demo", "gpt2-124m", "gpt2-1.5b"})
    EXPECT_NE(find_model_preset(name), nullptr) << name;
  for (const char* name : {"v100", "a100-80gb", "h100"}) {
    const ClusterSpec* c = find_cluster_preset(name);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_GT(c->device.peak_flops, 1e14);
    EXPECT_GT(c->intra.bandwidth_Bps, c->inter.bandwidth_Bps);
  }
  EXPECT_EQ(find_cluster_preset("tpu"), nullptr);
}

TEST(Presets, UnknownNamesListThePresets) {
  try {
    load_model("gpt5");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("gpt3-175b"), std::string::npos);
  }
  EXPECT_THROW(load_cluster("tpu-v9"), UsageError);
}

TEST_F(JsonFile, CustomClusterLoads) {
  const ClusterSpec c = load_cluster(write(kCluster));
  EXPECT_EQ(c.name, "lab");
  EXPECT_EQ(c.devices, 8);
  EXPECT_EQ(c.devices_per_node, 4);
  EXPECT_DOUBLE_EQ(c.device.sustained_flops(), 40e12);
  EXPECT_DOUBLE_EQ(c.device.memory_bytes, 24.0 * (1 << 30));
  EXPECT_DOUBLE_EQ(c.inter.bandwidth_Bps, 12.5e9);
  EXPECT_DOUBLE_EQ(c.intra.latency_s, 2e-6);
  EXPECT_EQ(c.format, Format::mixed);
}

TEST_F(JsonFile, ClusterErrorsNameTheFileAndTheField) {
  std::string text = kCluster;
  auto without = [&](const std::string& field) {
    std::string t = text;
    const size_t at = t.find("\"" + field + "\"");
    const size_t comma = t.find(',', at);
    return t.erase(at, comma - at + 1);
  };
  std::string f = write(without("memory_gib"));
  EXPECT_NE(error_of([&] { load_cluster(f); }, f).find("device.memory_gib"), std::string::npos);
  f = write(without("devices_per_node"));
  EXPECT_NE(error_of([&] { load_cluster(f); }, f).find("devices_per_node"), std::string::npos);
  f = write(std::string(kCluster).replace(std::string(kCluster).find("900"), 3, "\"fast\""));
  EXPECT_NE(error_of([&] { load_cluster(f); }, f).find("memory_bandwidth_gbps"), std::string::npos);
  f = write(std::string(kCluster).replace(std::string(kCluster).find("0.4"), 3, "1.5"));
  EXPECT_NE(error_of([&] { load_cluster(f); }, f).find("device.efficiency"), std::string::npos);
  f = write(std::string(kCluster).replace(std::string(kCluster).find("12.5"), 4, "-1"));
  EXPECT_NE(error_of([&] { load_cluster(f); }, f).find("inter.bandwidth_gbps"), std::string::npos);
  f = write("{\"devices_per_node\": 4,");
  EXPECT_NE(error_of([&] { load_cluster(f); }, f).find("not valid JSON"), std::string::npos);
  f = write("[1, 2]");
  error_of([&] { load_cluster(f); }, f);
}

TEST_F(JsonFile, CustomModelLoadsAndIsChecked) {
  std::string f = write(R"({"layers": 40, "dim": 5120, "heads": 40, "ctx": 2048, "vocab": 50257})");
  const ModelSpec m = load_model(f);
  EXPECT_EQ(m.layers, 40);
  EXPECT_EQ(m.batch, 16);  // default
  f = write(R"({"layers": 4, "dim": 100, "heads": 3, "ctx": 64})");
  EXPECT_NE(error_of([&] { load_model(f); }, f).find("heads"), std::string::npos);
  f = write(R"({"layers": 4, "dim": 128, "heads": 4})");
  EXPECT_NE(error_of([&] { load_model(f); }, f).find("ctx"), std::string::npos);
  f = write(R"({"layers": 2.5, "dim": 128, "heads": 4, "ctx": 64})");
  EXPECT_NE(error_of([&] { load_model(f); }, f).find("layers"), std::string::npos);
}

TEST(Units, CountsParseWithSuffixes) {
  EXPECT_DOUBLE_EQ(parse_count("300B", "--tokens"), 300e9);
  EXPECT_DOUBLE_EQ(parse_count("1.5T", "--tokens"), 1.5e12);
  EXPECT_DOUBLE_EQ(parse_count("3e11", "--tokens"), 3e11);
  EXPECT_DOUBLE_EQ(parse_count("10K", "--tokens"), 1e4);
  for (const char* bad : {"", "abc", "-5", "0", "12X", "1e400"})
    EXPECT_THROW(parse_count(bad, "--tokens"), UsageError) << bad;
  EXPECT_EQ(human_seconds(33 * 86400.0), "33.0 days");
  EXPECT_EQ(human_seconds(366 * 365.25 * 86400), "366 years");
  EXPECT_EQ(human_bytes(1.5 * (1 << 30)), "1.5 GiB");
}

}  // namespace
}  // namespace plait::plan

namespace plait::plan {
namespace {

TEST_F(JsonFile, ModelShapesBeyondGpt2) {
  const std::string f = write(R"({"layers": 80, "dim": 8192, "heads": 64, "ctx": 2048,
    "vocab": 32000, "ffn": 28672, "mlp": "swiglu", "kv_heads": 8,
    "tied_embeddings": false, "positions": "rotary"})");
  const ModelSpec m = load_model(f);
  EXPECT_EQ(m.ffn_dim(), 28672);
  EXPECT_TRUE(m.gated_mlp);
  EXPECT_EQ(m.kv_dim(), 1024);
  EXPECT_FALSE(m.tied_embeddings);
  EXPECT_EQ(m.positions, Positions::rotary);
  EXPECT_NEAR(m.params(), 68.98e9, 0.05e9);  // LLaMA-2-70B's shape: 69.0B
  const std::string bad = write(R"({"layers": 2, "dim": 64, "heads": 4, "ctx": 8, "mlp": "relu"})");
  EXPECT_NE(error_of([&] { load_model(bad); }, bad).find("'mlp'"), std::string::npos);
  const std::string kv = write(R"({"layers": 2, "dim": 64, "heads": 4, "ctx": 8, "kv_heads": 3})");
  EXPECT_NE(error_of([&] { load_model(kv); }, kv).find("'kv_heads'"), std::string::npos);
}

TEST(Presets, PublishedRunsHaveTheirParameterCounts) {
  EXPECT_NEAR(find_model_preset("bloom-176b")->params(), 176.2e9, 0.5e9);
  EXPECT_NEAR(find_model_preset("llama-65b")->params(), 65.2e9, 0.3e9);
  EXPECT_NEAR(find_model_preset("megatron-1t")->params(), 1008e9, 5e9);
  EXPECT_NEAR(find_model_preset("mt-nlg-530b")->params(), 530e9, 3e9);
}

}  // namespace
}  // namespace plait::plan
