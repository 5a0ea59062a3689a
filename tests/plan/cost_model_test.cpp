// FLOPs, memory, pipeline bubble and step time: the pieces of the cost model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "plan/flops.h"
#include "plan/memory_model.h"
#include "layout/schedule.h"
#include "plan/step_cost.h"

namespace plait::plan {
namespace {

const ModelSpec& preset(const char* name) { return *find_model_preset(name); }
const ClusterSpec& cluster(const char* name) { return *find_cluster_preset(name); }

TEST(Flops, ParameterCountsMatchThePublishedModels) {
  EXPECT_NEAR(preset("gpt2-124m").params(), 124.4e6, 0.5e6);
  EXPECT_NEAR(preset("gpt2-1.5b").params(), 1.558e9, 0.01e9);
  EXPECT_NEAR(preset("gpt3-175b").params(), 174.6e9, 0.5e9);
}

TEST(Flops, TrainingIsThreeForwardsAndRecomputationAddsOneOfTheLayers) {
  const ModelSpec& m = preset("gpt2-124m");
  const double h = m.dim, s = m.ctx;
  EXPECT_DOUBLE_EQ(layer_forward_flops_per_token(m), 24 * h * h + 4 * s * h);
  EXPECT_DOUBLE_EQ(training_flops_per_token(m), 3 * forward_flops_per_token(m));
  EXPECT_DOUBLE_EQ(recompute_flops_per_token(m) - training_flops_per_token(m),
                   m.layers * layer_forward_flops_per_token(m));
  // Attention and the head make the count exceed 6N a little, not a lot.
  const double ratio = training_flops(m, 1e9) / six_n_d(m, 1e9);
  EXPECT_GT(ratio, 1.0);
  EXPECT_LT(ratio, 1.25);
}

TEST(Pipeline, BubbleIsPMinusOneOverMPlusPMinusOne) {
  EXPECT_DOUBLE_EQ(ideal_bubble(1, 8), 0);
  EXPECT_DOUBLE_EQ(ideal_bubble(2, 1), 0.5);
  EXPECT_DOUBLE_EQ(ideal_bubble(4, 8), 3.0 / 11);
  EXPECT_DOUBLE_EQ(ideal_bubble(8, 96), 7.0 / 103);
}

TEST(Pipeline, OneFOneBKeepsAtMostPMicroBatchesAndGPipeKeepsAll) {
  EXPECT_EQ(peak_in_flight(PipeSchedule::gpipe, 0, 4, 16), 16);
  EXPECT_EQ(peak_in_flight(PipeSchedule::one_f_one_b, 0, 4, 16), 4);
  EXPECT_EQ(peak_in_flight(PipeSchedule::one_f_one_b, 3, 4, 16), 1);
  EXPECT_EQ(peak_in_flight(PipeSchedule::one_f_one_b, 0, 4, 2), 2);
}

TEST(Memory, ModelStateIsSixteenBytesPerParameter) {
  const ModelSpec& m = preset("gpt2-124m");
  Layout l;
  for (Format f : {Format::mixed, Format::fp32}) {
    const MemoryEstimate e = device_memory(m, f, l);
    EXPECT_NEAR((e.weights + e.grads + e.optimizer) / m.params(), 16, 0.01) << to_string(f);
  }
}

// ZeRO-2/3's page pools (plait's data parallelism) follow the bucket and block sizes,
// not the model's depth: as the layers grow the sharded gradients grow and the pools
// do not; they exist only at stages 2 and 3 with dp > 1 and no tp/pp mesh.
TEST(Memory, ZeroPoolsAreBoundedByBucketAndBlockNotByDepth) {
  ModelSpec m = preset("demo");
  Layout l;
  l.dp = 2;
  const double C = m.dim, block = 4 * (12 * C * C + 13 * C), bucket_mb = 0.25;
  const double bucket = bucket_mb * 1024 * 1024, page = 4096;
  const double wte = 4.0 * std::ceil(m.vocab / 64.0) * 64 * C;
  m.layers = 8;
  const ZeroPools p8 = zero_pools(m, l, 3, bucket_mb);
  const double g8 = plait_stage_memory(m, l, 0, 3, bucket_mb).grads;
  m.layers = 32;
  const ZeroPools p32 = zero_pools(m, l, 3, bucket_mb);
  EXPECT_GT(plait_stage_memory(m, l, 0, 3, bucket_mb).grads, 3.5 * g8);
  EXPECT_NEAR(p32.grads, p8.grads, wte);  // the other ranks' buckets inside wte may differ
  EXPECT_DOUBLE_EQ(p32.params, p8.params);
  // the next block's buckets and two more, plus the others' buckets inside wte
  EXPECT_GT(p32.grads, block);
  EXPECT_LE(p32.grads, block + 3 * (bucket + 2 * page) + wte);
  // two units gathered at once, each window a slot of the largest unit (here a block)
  EXPECT_GE(p32.params, 2 * block);
  EXPECT_LE(p32.params, 4 * (block + page));
  // smaller buckets, a smaller gradient pool
  EXPECT_LT(zero_pools(m, l, 2, bucket_mb / 4).grads, p32.grads);
  EXPECT_EQ(zero_pools(m, l, 2, bucket_mb).params, 0);
  EXPECT_EQ(zero_pools(m, l, 1, bucket_mb).grads, 0);
  Layout mesh = l;
  mesh.tp = 2;
  EXPECT_EQ(zero_pools(m, mesh, 3, bucket_mb).grads + zero_pools(m, mesh, 3, bucket_mb).params, 0);
  // in comm, and counted once
  const MemoryEstimate e = plait_stage_memory(m, l, 0, 2, bucket_mb);
  EXPECT_DOUBLE_EQ(e.pools, p32.grads);
  EXPECT_DOUBLE_EQ(e.comm, e.pools);
}

TEST(Memory, ActivationsFollowKorthikantiAndShrinkWithTensorParallelism) {
  const ModelSpec& m = preset("gpt3-175b");
  const double h = m.dim, a = m.heads, s = m.ctx;
  EXPECT_DOUBLE_EQ(activation_bytes_per_token(m, Format::mixed, 1, false), 34 * h + 5 * a * s);
  EXPECT_DOUBLE_EQ(activation_bytes_per_token(m, Format::mixed, 8, false),
                   10 * h + 24 * h / 8 + 5 * a * s / 8);
  EXPECT_DOUBLE_EQ(activation_bytes_per_token(m, Format::mixed, 8, true), 2 * h);
}

TEST(Memory, PlaitActivationsCountWhatABlockSaves) {
  // model/block.h: ln1, qkv, att, atty, resid2, ln2, fch, fch_gelu, out (+ 4 stats).
  const ModelSpec& m = preset("demo");
  const double C = m.dim, floats = 16 * C + m.heads * m.ctx;
  EXPECT_NEAR(activation_bytes_per_token(m, Format::fp32, 1, false), 4 * floats, 1e-9);
}

TEST(Memory, RecomputationAndOneFOneBSaveMemoryAndShardsDivideModelState) {
  const ModelSpec& m = preset("gpt2-1.5b");
  Layout gpipe;
  gpipe.pp = 4, gpipe.micro_batches = 16, gpipe.micro_batch = 2;
  gpipe.schedule = PipeSchedule::gpipe;
  Layout f1b = gpipe;
  f1b.schedule = PipeSchedule::one_f_one_b;
  Layout rc = f1b;
  rc.recompute = Recompute::full;
  const double g = device_memory(m, Format::mixed, gpipe).activations;
  const double o = device_memory(m, Format::mixed, f1b).activations;
  const double r = device_memory(m, Format::mixed, rc).activations;
  EXPECT_DOUBLE_EQ(g / o, 16.0 / 4.0);
  EXPECT_LT(r, o / 10);
  Layout one;
  Layout tp4;
  tp4.tp = 4;
  const MemoryEstimate a = device_memory(m, Format::mixed, one);
  const MemoryEstimate b = device_memory(m, Format::mixed, tp4);
  EXPECT_NEAR(b.optimizer / a.optimizer, 0.25, 0.01);
}

TEST(StepCost, PipelineTimeIsTheStagesPlusMMinusOneSlowestStages) {
  const ModelSpec& m = preset("gpt2-1.5b");
  Layout l;
  l.pp = 4, l.micro_batches = 8, l.micro_batch = 1;
  const StepCost s = step_cost(m, cluster("a100-80gb"), l);
  ASSERT_EQ(s.stage_s.size(), 4u);
  double sum = 0, slowest = 0;
  for (double t : s.stage_s) sum += t, slowest = std::max(slowest, t);
  EXPECT_DOUBLE_EQ(s.micro_batch_s, slowest);
  EXPECT_NEAR(s.pipeline_s, sum + 7 * slowest, 1e-12);
  EXPECT_NEAR(s.bubble_s, s.pipeline_s - 8 * slowest, 1e-12);
  // Nearly equal stages: about (M + P - 1) slots, a bubble of about (P-1)/(M+P-1).
  EXPECT_NEAR(s.bubble_fraction, 3.0 / 11, 0.02);
  EXPECT_NEAR(s.step_s, s.pipeline_s + s.dp_exposed_s + s.optimizer_s, 1e-12);
}

TEST(StepCost, OverlapHidesGradientSyncBehindTheBackwardPass) {
  const ModelSpec& m = preset("gpt2-124m");
  ClusterSpec c = cluster("v100");
  Layout l;
  l.dp = 32, l.micro_batch = 16, l.micro_batches = 1;
  l.sync = SyncAlgorithm::ring;
  StepOptions yes;
  yes.framework = *find_framework("plait");  // buckets during the backward pass
  StepOptions no = yes;
  no.overlap = false;
  const StepCost hidden = step_cost(m, c, l, yes);
  const StepCost exposed = step_cost(m, c, l, no);
  EXPECT_DOUBLE_EQ(exposed.dp_exposed_s, exposed.dp_comm_s);
  EXPECT_LT(hidden.dp_exposed_s, exposed.dp_exposed_s);
  EXPECT_GT(hidden.dp_exposed_s, 0);  // at least the last bucket sticks out
  EXPECT_LT(hidden.step_s, exposed.step_s);
}

TEST(StepCost, TensorParallelismAcrossNodesPaysForItsAllreduces) {
  const ModelSpec& m = preset("gpt2-1.5b");
  ClusterSpec c = cluster("a100-80gb");
  Layout l;
  l.tp = 5;  // divides 25 heads; with nodes of 5 the next size spans nodes
  c.devices_per_node = 5;
  const double inside = step_cost(m, c, l).tensor_comm_s;
  l.tp = 25;
  const double across = step_cost(m, c, l).tensor_comm_s;
  EXPECT_GT(across, inside);
}

TEST(StepCost, UtilisationNeverExceedsTheBestGemmFraction) {
  const ModelSpec& m = preset("gpt3-175b");
  const ClusterSpec& c = cluster("a100-80gb");
  for (int tp : {1, 8})
    for (int pp : {1, 8, 32}) {
      Layout l;
      l.tp = tp, l.pp = pp, l.micro_batches = m.batch;  // b = 1: the whole batch
      const StepCost s = step_cost(m, c, l);
      EXPECT_GT(s.mfu, 0);
      EXPECT_LE(s.mfu, c.device.gemm_max_fraction);
    }
}

TEST(StepCost, SingleDeviceTimeIsFlopsOverTheSustainedRate) {
  const ModelSpec& m = preset("gpt2-124m");
  const DeviceSpec& d = cluster("a100-80gb").device;
  EXPECT_DOUBLE_EQ(single_device_seconds(m, d, 1e9),
                   training_flops(m, 1e9) / (d.peak_flops * d.gemm_efficiency));
}

}  // namespace
}  // namespace plait::plan
