// Memory by kind: what `plait train` measures from its allocations after the first step
// (the metrics log's "memory" event) agrees with what `plait simulate` predicts for the
// same layout (plan::plait_stage_memory, the fp32 model of the trainer) within 10% per
// kind, for every recompute mode and the layouts the planner recommends (one worker,
// data parallelism with ZeRO-1, tensor and 1F1B pipeline parallelism); block
// recomputation keeps at most 2/L of the activations of none plus one block.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include <random>

#include "cli/model_spec_of.h"
#include "parallel/trainer.h"
#include "plan/memory_model.h"

namespace plait {
namespace {

namespace fs = std::filesystem;

// (Not tests/parallel/train_helpers.h: its TempDir would clash with run_plait.h's in
// this executable.)
struct ScratchDir {
  fs::path path = fs::temp_directory_path() / ("plait_memory_" + std::to_string(::getpid()));
  ScratchDir() { fs::create_directories(path); }
  ~ScratchDir() { fs::remove_all(path); }
};

std::string corpus_text() {
  const char* words[] = {"the ", "cat ", "sat ", "on ", "a ", "mat, ", "and ", "dog ", "ran.\n"};
  std::mt19937 rng(7);
  std::string s;
  while (s.size() < 12000) s += words[rng() % 9];
  return s;
}

struct Case {
  int dp = 1, tp = 1, pp = 1, zero = 0, micro_batches = 0;
  Recompute recompute = Recompute::none;
  std::string name() const {
    return "dp" + std::to_string(dp) + "tp" + std::to_string(tp) + "pp" + std::to_string(pp) +
           "z" + std::to_string(zero) + to_string(recompute);
  }
};

// 8 blocks of dim 64, 4 heads, ctx 32, batch 8: one step is enough (measured after it).
TrainOptions options(const fs::path& dir, const Case& c) {
  TrainOptions o;
  o.model = GPTConfig{256, 32, 8, 64, 4};
  o.data = {(dir / "c.txt").string()};
  o.eval_every = 0;
  o.eval_windows = 8;
  o.progress = false;
  o.workers = c.dp * c.tp * c.pp;
  o.blas_threads = 1;
  o.batch = 8;
  o.steps = 1;
  if (c.tp > 1 || c.pp > 1) o.dp = c.dp, o.tp = c.tp, o.pp = c.pp;
  o.micro_batches = c.micro_batches;
  o.zero = c.zero;
  o.recompute = c.recompute;
  return o;
}

plan::Layout layout_of(const TrainOptions& o, const Case& c) {
  plan::Layout l;
  l.dp = c.dp, l.tp = c.tp, l.pp = c.pp;
  l.micro_batches = c.pp > 1 ? (c.micro_batches > 0 ? c.micro_batches : c.pp) : 1;
  l.micro_batch = o.batch / c.dp / l.micro_batches;
  l.schedule = o.schedule;
  l.recompute = c.recompute == Recompute::block       ? plan::Recompute::full
                : c.recompute == Recompute::selective ? plan::Recompute::selective
                                                      : plan::Recompute::none;
  return l;
}

// The "memory" event's ranks.
nlohmann::json measured(const fs::path& log) {
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.value("event", "") == "memory") return j["ranks"];
  }
  return nlohmann::json::array();
}

class MemoryAccounting : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ScratchDir;
    std::ofstream(dir_->path / "c.txt") << corpus_text();
  }
  static void TearDownTestSuite() { delete dir_; }
  // Trains one step; checks every rank's kinds against the model; returns rank 0's.
  static nlohmann::json check(const Case& c) {
    TrainOptions o = options(dir_->path, c);
    o.log_path = (dir_->path / (c.name() + ".jsonl")).string();
    o.checkpoint_dir = (dir_->path / c.name()).string();
    train(o);
    const nlohmann::json ranks = measured(o.log_path);
    // every rank of a mesh or of ZeRO data parallelism (their shards differ), else rank 0
    EXPECT_EQ(ranks.size(),
              static_cast<size_t>(c.tp * c.pp > 1 || c.zero > 0 ? c.dp * c.tp * c.pp : 1))
        << c.name();
    const plan::ModelSpec m = model_spec_of(o.model, o.batch, "test", "test");
    const plan::Layout l = layout_of(o, c);
    for (const auto& r : ranks) {
      const int stage = r["pp"].get<int>();
      const plan::MemoryEstimate e =
          plan::plait_stage_memory(m, l, stage, c.zero, o.bucket_mb, r["dp"].get<int>());
      const std::pair<const char*, double> kinds[] = {
          {"weights", e.weights},         {"grads", e.grads},         {"optimizer", e.optimizer},
          {"activations", e.activations}, {"workspace", e.workspace}, {"comm", e.comm}};
      for (const auto& [kind, predicted] : kinds) {
        const double got = r[kind].get<double>();
        // a sharded arena is measured in resident pages: at most one page more at each
        // edge of the shard and of each gathered unit (Zero::release keeps the partial
        // pages at a unit's edges)
        const std::string k = kind;
        const double pages =
            (k == "weights" && c.zero >= 3) || (k == "grads" && c.zero >= 2) ? 4096.0 * 12 : 0;
        EXPECT_NEAR(got, predicted, 0.1 * std::max(got, predicted) + pages)
            << c.name() << " rank " << r["rank"] << " " << kind;
      }
      EXPECT_GT(r["peak_rss"].get<double>(), r["total"].get<double>()) << c.name();
    }
    return ranks.empty() ? nlohmann::json() : ranks[0];
  }
  static ScratchDir* dir_;
};
ScratchDir* MemoryAccounting::dir_ = nullptr;

TEST_F(MemoryAccounting, OneWorkerEveryRecomputeMode) {
  const auto none = check({1, 1, 1, 0, 0, Recompute::none});
  const auto selective = check({1, 1, 1, 0, 0, Recompute::selective});
  const auto block = check({1, 1, 1, 0, 0, Recompute::block});
  const double L = 8, acts = none["activations"].get<double>();
  EXPECT_LT(selective["activations"].get<double>(), acts);
  // one block's full activations: the buffer block recomputation runs the block in
  const double one_block = 4.0 * 8 * 32 * (4 * 64 + 12 * 64 + 4) + 4.0 * 8 * 4 * 32 * 32;
  EXPECT_LE(block["activations"].get<double>(), 2 / L * acts + one_block);
  EXPECT_GT(block["workspace"].get<double>(), none["workspace"].get<double>());
}

TEST_F(MemoryAccounting, DataTensorPipelineAndZero) {
  check({2, 1, 1, 1, 0, Recompute::none});
  check({1, 2, 1, 0, 0, Recompute::selective});
  check({1, 1, 2, 0, 4, Recompute::block});
}

// The ZeRO paper's per-rank model state in fp32 (no master weights): stage 1 4Ψ + 4Ψ +
// 8Ψ/D, stage 2 4Ψ + (4Ψ + 8Ψ)/D, stage 3 (4Ψ + 4Ψ + 8Ψ)/D; every rank's kinds also
// agree with simulate (check), stage 3's gathered units (comm) included.
TEST_F(MemoryAccounting, ZeroStagesShardByKind) {
  const double psi = 418432;  // 8 blocks of dim 64, ctx 32, 256 tokens
  for (int D : {2, 4})
    for (int zero : {1, 2, 3}) {
      const auto r = check({D, 1, 1, zero, 0, Recompute::none});
      const std::string name = "dp" + std::to_string(D) + " --zero " + std::to_string(zero);
      const double w = 4 * psi / (zero >= 3 ? D : 1), g = 4 * psi / (zero >= 2 ? D : 1);
      EXPECT_NEAR(r["weights"].get<double>(), w, 0.1 * w) << name;
      EXPECT_NEAR(r["grads"].get<double>(), g, 0.1 * g) << name;
      EXPECT_NEAR(r["optimizer"].get<double>(), 8 * psi / D, 0.8 * psi / D) << name;
      // comm: the page pools, the others' gradient buckets (stages 2, 3) and the
      // gathered units (stage 3: two blocks at once), and nothing else
      EXPECT_EQ(r["grad_pool"].get<double>() > 0, zero >= 2) << name;
      EXPECT_EQ(r["param_pool"].get<double>() > 0, zero >= 3) << name;
      EXPECT_EQ(r["comm"].get<double>(), r["grad_pool"].get<double>() + r["param_pool"].get<double>())
          << name;
      if (zero >= 3) {
        EXPECT_GE(r["param_pool"].get<double>(), 2 * 4.0 * (12 * 64 * 64 + 13 * 64)) << name;
      }
    }
}

// ZeRO-2's gradient side: the shard scales with the model (4Ψ/D), the pool stays
// bounded by the block and bucket sizes (the next block's buckets and two more, plus
// the other ranks' buckets inside wte), whatever the depth; every rank's pool as
// simulate's model predicts it (plan::zero_pools).
TEST_F(MemoryAccounting, ZeroGradientPoolIsBoundedWhileTheShardScales) {
  const auto run = [](int layers) {
    TrainOptions o = options(dir_->path, {2, 1, 1, 2, 0, Recompute::none});
    o.model.layers = layers;
    o.bucket_mb = 1.0 / 16;  // 16384 floats: a block (49,984 floats) is about 3 buckets
    o.log_path = (dir_->path / ("pool" + std::to_string(layers) + ".jsonl")).string();
    o.checkpoint_dir = (dir_->path / ("pool" + std::to_string(layers))).string();
    train(o);
    const auto ranks = measured(o.log_path);
    const plan::ModelSpec m = model_spec_of(o.model, o.batch, "test", "test");
    const plan::Layout l = layout_of(o, {2, 1, 1, 2, 0, Recompute::none});
    for (const auto& r : ranks) {
      const double want = plan::zero_pools(m, l, 2, o.bucket_mb, r["dp"].get<int>()).grads;
      EXPECT_NEAR(r["grad_pool"].get<double>(), want, 0.1 * want) << layers << " rank " << r["rank"];
    }
    return ranks;
  };
  const auto r8 = run(8), r16 = run(16);
  ASSERT_EQ(r8.size(), 2u);
  ASSERT_EQ(r16.size(), 2u);
  const double block = 4.0 * (12 * 64 * 64 + 13 * 64), wte = 4.0 * 256 * 64;
  const double bound = block + 3 * (4.0 * 16384 + 2 * 4096) + wte;
  const double psi8 = 418432, psi16 = psi8 + 8 * 49984;
  for (int i = 0; i < 2; ++i) {
    const double g8 = r8[i]["grads"].get<double>(), g16 = r16[i]["grads"].get<double>();
    const double p8 = r8[i]["grad_pool"].get<double>(), p16 = r16[i]["grad_pool"].get<double>();
    EXPECT_NEAR(g8, 4 * psi8 / 2, 0.05 * 4 * psi8 / 2) << "rank " << i;  // the shard
    EXPECT_NEAR(g16, 4 * psi16 / 2, 0.05 * 4 * psi16 / 2) << "rank " << i;
    EXPECT_GE(p8, block) << "rank " << i;  // at least the next block's buckets
    EXPECT_LE(p8, bound) << "rank " << i;
    EXPECT_LE(p16, bound) << "rank " << i;
    EXPECT_NEAR(p16, p8, wte) << "rank " << i;  // only the buckets inside wte may differ
  }
}

TEST_F(MemoryAccounting, ZeroOnTheDataParallelAxisOfMeshes) {
  check({2, 2, 1, 3, 0, Recompute::none});
  check({2, 1, 2, 2, 2, Recompute::block});
  check({2, 1, 2, 3, 2, Recompute::selective});
}

}  // namespace
}  // namespace plait
