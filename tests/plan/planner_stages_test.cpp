// The planner's uneven stage splits: the LM head and slow devices cost blocks, so the
// planner (plan, simulate) gives their stages fewer blocks and prints the --stages that
// runs the split.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "plan/plan_report.h"
#include "plan/simulate.h"
#include "plan/train_command.h"
#include "util/error.h"

namespace plait::plan {
namespace {

ModelSpec spec(int layers, int dim, int ctx, int vocab) {
  ModelSpec m;
  m.name = "test";
  m.layers = layers, m.dim = dim, m.heads = 8, m.ctx = ctx, m.vocab = vocab, m.batch = 16;
  return m;
}

Layout pipeline(int pp) {
  Layout l;
  l.pp = pp, l.micro_batch = 1, l.micro_batches = 16;
  return l;
}

bool contains(const std::vector<std::string>& argv, const std::string& a, const std::string& b) {
  for (size_t i = 0; i + 1 < argv.size(); ++i)
    if (argv[i] == a && argv[i + 1] == b) return true;
  return false;
}

// A 50257-token head on dim 1024 is 3.5 blocks of FLOPs (2hV / (24h² + 4sh)) and less
// of the time of a layer costed kernel by kernel (megatron recomputes the layers):
// of 8 blocks over 2 stages the last takes 3; with a byte vocabulary it takes its even
// half. The train command names the uneven split.
TEST(PlannerStages, LargeHeadGetsFewerBlocksAndTheCommandSaysSo) {
  const ClusterSpec& c = *find_cluster_preset("a100-80gb");
  const ModelSpec big = spec(8, 1024, 1024, 50257), small = spec(8, 1024, 1024, 256);
  StepOptions so;
  so.framework = *find_framework("megatron");
  const StepCost uneven = step_cost(big, c, pipeline(2), so);
  EXPECT_EQ(uneven.stages, (std::vector<int>{5, 3}));
  EXPECT_EQ(step_cost(small, c, pipeline(2), so).stages, (std::vector<int>{4, 4}));
  // the split it picked is faster than the even one
  Layout even = pipeline(2);
  even.stages = {4, 4};
  EXPECT_LT(uneven.step_s, step_cost(big, c, even, so).step_s);
  Layout chosen = pipeline(2);
  chosen.stages = uneven.stages;
  EXPECT_TRUE(contains(train_command(big, c, chosen, 1e9).argv, "--stages", "5,3"));
}

// plan --slowdown: device 1 (the second stage of dp1 x tp1 x pp2) 3x slower gets fewer
// blocks; the step is slower than on equal devices, and the split is the least busy
// one under the slowdown.
TEST(PlannerStages, SlowDeviceStageGetsFewerBlocks) {
  const ClusterSpec& c = *find_cluster_preset("a100-80gb");
  const ModelSpec m = spec(8, 1024, 1024, 256);
  StepOptions so;
  so.framework = *find_framework("megatron");
  const StepCost equal = step_cost(m, c, pipeline(2), so);
  so.slowdowns = {{1, 3.0}};
  EXPECT_EQ(stage_slowdowns(pipeline(2), so), (std::vector<double>{1, 3}));
  const StepCost slow = step_cost(m, c, pipeline(2), so);
  EXPECT_EQ(slow.stages, (std::vector<int>{6, 2}));  // 6 vs 3 x 2 (+ a little head)
  EXPECT_GT(slow.step_s, equal.step_s);
  for (int k = 1; k < 8; ++k) {  // no other split of the slowed pipeline is faster
    Layout l = pipeline(2);
    l.stages = {k, 8 - k};
    EXPECT_GE(step_cost(m, c, l, so).step_s, slow.step_s * (1 - 1e-12)) << k;
  }
  // A slow device in a layout that does not use it changes nothing; dp2 x pp2 puts
  // devices 2 and 3 in stage 1.
  Layout wide = pipeline(2);
  wide.dp = 2;
  so.slowdowns = {{3, 2.0}, {9, 5.0}};
  EXPECT_EQ(stage_slowdowns(wide, so), (std::vector<double>{1, 2}));
}

// The whole planner: asked for 2 devices with device 1 slow, its recommendation runs
// the slow device's stage with fewer blocks and prints them.
TEST(PlannerStages, PlanRecommendsUnevenStagesForASlowDevice) {
  PlanOptions o;
  o.devices = 2;
  o.tokens = 1e9;
  o.step.framework = *find_framework("megatron");
  o.step.slowdowns = {{1, 4.0}};
  // too large for one 80 GB device (8 x 1.6B parameters x 16 bytes): model parallel
  ModelSpec m = spec(8, 4096, 2048, 256);
  m.heads = 32;
  const ClusterSpec& c = *find_cluster_preset("a100-80gb");
  const PlanResult r = plan(m, c, o);
  ASSERT_TRUE(r.recommended);
  const Candidate& best = r.ranked[*r.recommended];
  ASSERT_EQ(best.layout.pp, 2) << describe_layout(best.layout);  // tp2 waits for the slow device in every layer
  ASSERT_EQ(best.layout.stages.size(), 2u);
  EXPECT_GT(best.layout.stages[0], best.layout.stages[1]);
  EXPECT_TRUE(contains(train_command(m, c, best.layout, o.tokens).argv, "--stages",
                       std::to_string(best.layout.stages[0]) + "," +
                           std::to_string(best.layout.stages[1])));
}

MachineProfile profile() {
  MachineProfile p;
  p.sgemm_flops = 100e9;
  p.memory_Bps = 10e9;
  p.gelu_per_s = 0.5e9;
  p.link = {2e-6, 5e9};
  p.cores = 4;
  p.memory_bytes = 16e9;
  p.source = "test";
  return p;
}

// plait simulate tries every split with the local model: a large head makes the last
// stage's share smaller; a rank 4x slower (train's --slowdown) makes its stage's smaller.
TEST(PlannerStages, SimulateFindsTheFastestSplit) {
  RunFlags f;
  f.pp = 2, f.micro_batches = 4;
  ModelSpec m = spec(6, 64, 64, 50304);
  m.heads = 4;
  Simulation s = simulate(local_run_from_flags(m, f, 1, 4, 0, {}, {}), profile(), 10);
  ASSERT_EQ(s.best_stages.size(), 2u);
  EXPECT_GT(s.best_stages[0], s.best_stages[1]);
  EXPECT_LE(s.best_step_s, s.cost.step_s);
  m.vocab = 256;
  f.slowdowns = {{1, 4.0}};
  s = simulate(local_run_from_flags(m, f, 1, 4, 0, {}, {}), profile(), 10);
  EXPECT_EQ(s.best_stages, (std::vector<int>{5, 1}));
  EXPECT_NE(simulate_text(s).find("train with --stages 5,1"), std::string::npos) << simulate_text(s);
  f.slowdowns = {{2, 4.0}};  // a rank the run lacks
  EXPECT_THROW(local_run_from_flags(m, f, 1, 4, 0, {}, {}), UsageError);
}

// The framework's ZeRO stage reaches train's command in every layout with dp > 1 (no
// --sync beside it); ZeRO-3 over replicas whose micro-batch counts would differ (batch
// 16 over 3 replicas: 6, 5, 5 sequences in micro-batches of 5: 2, 1, 1) runs --zero 2,
// with a note.
TEST(PlannerStages, TrainCommandCarriesTheZeroStage) {
  const ClusterSpec& c = *find_cluster_preset("a100-80gb");
  const ModelSpec m = spec(8, 256, 64, 256);
  Layout mesh;
  mesh.dp = 2, mesh.tp = 2;
  const TrainCommand t3 = train_command(m, c, mesh, 1e6, 3);
  EXPECT_TRUE(contains(t3.argv, "--zero", "3"));
  EXPECT_TRUE(contains(t3.argv, "--tp", "2"));
  EXPECT_EQ(std::count(t3.argv.begin(), t3.argv.end(), "--sync"), 0);
  EXPECT_TRUE(t3.notes.empty());
  Layout piped = pipeline(2);
  piped.dp = 2, piped.micro_batches = 4;
  EXPECT_TRUE(contains(train_command(m, c, piped, 1e6, 1).argv, "--zero", "1"));
  Layout uneven;
  uneven.dp = 3, uneven.micro_batch = 5, uneven.micro_batches = 2;
  const TrainCommand t2 = train_command(m, c, uneven, 1e6, 3);
  EXPECT_TRUE(contains(t2.argv, "--zero", "2"));
  ASSERT_EQ(t2.notes.size(), 1u);
  EXPECT_NE(t2.notes[0].find("--zero 2"), std::string::npos);
  Layout even;
  even.dp = 4, even.micro_batch = 2, even.micro_batches = 2;
  EXPECT_TRUE(contains(train_command(m, c, even, 1e6, 3).argv, "--zero", "3"));
  const TrainCommand alone = train_command(m, c, Layout{}, 1e6, 3);  // nothing to shard
  EXPECT_EQ(std::count(alone.argv.begin(), alone.argv.end(), "--zero"), 0);
}

}  // namespace
}  // namespace plait::plan
