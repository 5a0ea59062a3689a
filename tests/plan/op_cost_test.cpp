// The per-operation cost model's pieces against values computed by hand: tile and wave
// quantisation, a compute-bound and a memory-bound product, streaming kernels, a layer's
// FLOPs by class, recomputation, and the weighted stage partition.
#include <gtest/gtest.h>

#include "layout/stages.h"
#include "plan/layer_cost.h"
#include "plan/memory_model.h"

namespace plait::plan {
namespace {

const DeviceSpec& a100() { return find_cluster_preset("a100-80gb")->device; }
constexpr double kClock = 1305.0 / 1410;

TEST(OpCost, TileAndWaveQuantisation) {
  // 2048 x 4608 in 128 x 128 tiles: 16 x 36 = 576 tiles, 6 waves of 108 SMs = 648 slots.
  EXPECT_DOUBLE_EQ(tile_efficiency(a100(), 2048, 4608), 576.0 / 648);
  // 100 x 128: one tile, 100/128 of it used; one tile of a wave of 108.
  EXPECT_DOUBLE_EQ(tile_efficiency(a100(), 100, 128), 100.0 / 128 / 108);
  // A batch of 108 such products fills the wave.
  EXPECT_DOUBLE_EQ(tile_efficiency(a100(), 100, 128, 108), 100.0 / 128);
  DeviceSpec cpu;  // no tiles: no quantisation
  EXPECT_DOUBLE_EQ(tile_efficiency(cpu, 100, 7), 1);
}

TEST(OpCost, ComputeBoundProductRunsAtTheMeasuredCeiling) {
  const double n = 8192;
  const OpTime o = gemm(a100(), n, n, n, 2);
  // 64 x 64 = 4096 tiles in 38 waves of 108.
  const double rate = 312e12 * kClock * 0.859 * (4096.0 / (38 * 108));
  EXPECT_DOUBLE_EQ(o.flops, 2 * n * n * n);
  EXPECT_NEAR(o.seconds, 2 * n * n * n / rate + 3e-6, 1e-12);
}

TEST(OpCost, MemoryBoundProductStreamsItsOperands) {
  // [13824, 128] x [128, 128]: 108 tiles (one wave), 64 FLOPs per byte moved, under
  // the A100's 143 (248 TFLOP/s over 1.73 TB/s): the bytes decide.
  const OpTime o = gemm(a100(), 13824, 128, 128, 2);
  const double bytes = 2.0 * (13824.0 * 128 + 128 * 128 + 13824.0 * 128);
  EXPECT_GT(bytes / (2039e9 * 0.85), o.flops / (312e12 * kClock * 0.859));
  EXPECT_NEAR(o.seconds, bytes / (2039e9 * 0.85) + 3e-6, 1e-12);
}

TEST(OpCost, StreamingKernelsAreBytesOverTheAchievedBandwidth) {
  const OpTime o = stream(a100(), 1e9, 4);
  EXPECT_DOUBLE_EQ(o.bytes, 1e9);
  EXPECT_NEAR(o.seconds, 1e9 / (2039e9 * 0.85) + 4 * 3e-6, 1e-12);
}

TEST(LayerCost, FlopsByClassFollowTheShape) {
  const ModelSpec& m = *find_model_preset("gpt3-175b");
  const double h = m.dim, s = m.ctx, n = 2 * s;  // micro-batch of 2
  PartShape p;
  p.micro_batch = 2;
  const LayerCost c = layer_cost(m, a100(), Framework{}, p);
  EXPECT_NEAR(c.forward.gemm.flops / (24 * h * h * n), 1, 1e-12);
  EXPECT_NEAR(c.backward.gemm.flops / (48 * h * h * n), 1, 1e-12);
  EXPECT_NEAR(c.forward.attention.flops / (4 * s * h * n), 1, 1e-12);
  EXPECT_EQ(c.recompute.seconds(), 0);
  // Tensor parallelism divides the work of every class but the replicated layer norms.
  p.tp = 8;
  const LayerCost t8 = layer_cost(m, a100(), Framework{}, p);
  EXPECT_NEAR(t8.forward.gemm.flops * 8, c.forward.gemm.flops, 1);
  EXPECT_NEAR(t8.forward.attention.flops * 8, c.forward.attention.flops, 1);
}

TEST(LayerCost, SwiGluAndGroupedKeysAndValuesCountTheirMatrices) {
  ModelSpec m = *find_model_preset("llama-65b");
  m.kv_heads = 8;  // GQA: K and V of 8 heads of 128
  const double h = m.dim, f = m.ffn_dim(), kv = 8 * 128, n = m.ctx;
  EXPECT_DOUBLE_EQ(m.block_matrix_params(), h * (h + 2 * kv) + h * h + 3 * h * f);
  const LayerCost c = layer_cost(m, a100(), Framework{}, PartShape{});
  EXPECT_NEAR(c.forward.gemm.flops / (2 * n * m.block_matrix_params()), 1, 1e-12);
  // Untied embeddings and rotary positions: two V x h matrices, no position table.
  EXPECT_DOUBLE_EQ(m.params(), 2 * m.vocab * h + m.layers * m.block_params() + 2 * h);
}

TEST(LayerCost, SelectiveRecomputationRedoesTheAttentionCoreOnly) {
  const ModelSpec& m = *find_model_preset("gpt3-175b");
  PartShape p;
  p.tp = 8;
  p.recompute = Recompute::selective;
  const LayerCost sel = layer_cost(m, a100(), Framework{}, p);
  EXPECT_DOUBLE_EQ(sel.recompute.seconds(), sel.forward.attention.seconds);
  EXPECT_EQ(sel.tp_allreduces, 4);
  p.recompute = Recompute::full;
  const LayerCost full = layer_cost(m, a100(), Framework{}, p);
  EXPECT_DOUBLE_EQ(full.recompute.seconds(), full.forward.seconds());
  EXPECT_EQ(full.tp_allreduces, 6);
  // A fused kernel never stores the scores: nothing to recompute, nothing to keep.
  p.recompute = Recompute::selective;
  const Framework flash = *find_framework("flash");
  EXPECT_EQ(layer_cost(m, a100(), flash, p).recompute.seconds(), 0);
  const double a = m.heads, s = m.ctx;
  const double none = activation_bytes_per_token(m, Format::mixed, 8, Recompute::none);
  const double selective = activation_bytes_per_token(m, Format::mixed, 8, Recompute::selective);
  EXPECT_DOUBLE_EQ(none - selective, 5 * a * s / 8);  // Korthikanti et al.: the 5as/t term
  EXPECT_DOUBLE_EQ(activation_bytes_per_token(m, Format::mixed, 8, Recompute::none, flash),
                   selective / 1 - 10 * m.dim + 10 * m.dim / 8);  // + sequence parallel
}

TEST(Stages, WeightedPartitionBalancesTheEmbeddingAndTheHead) {
  // No extra work: exactly balance_stages.
  for (auto [L, P] : {std::pair{70, 12}, {96, 32}, {5, 2}, {7, 3}, {105, 35}})
    EXPECT_EQ(balance_stages_weighted(L, std::vector<double>(P, 0)), balance_stages(L, P))
        << L << "/" << P;
  // 70 blocks on 12 stages, the head worth 1.5 blocks on the last: its stage takes fewer.
  std::vector<double> extra(12, 0);
  extra.back() = 1.5;
  const std::vector<int> sizes = balance_stages_weighted(70, extra);
  int sum = 0, busiest = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    sum += sizes[i];
    EXPECT_GE(sizes[i], 1);
    busiest = std::max<int>(busiest, sizes[i] + (i + 1 == sizes.size() ? 2 : 0));
  }
  EXPECT_EQ(sum, 70);
  EXPECT_LT(sizes.back(), 6);  // 6 blocks + 1.5 would be the busiest stage
  EXPECT_LE(busiest, 7);       // ceil(71.5 / 12) = 6 blocks beside 7.5 on the last at most
}

}  // namespace
}  // namespace plait::plan
