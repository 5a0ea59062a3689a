// --stages auto: the cost model's partition, table-driven; the LM head's work is
// counted in blocks (2hV / (24h² + 4sh) for GPT-2) on the last stage.
#include "plan/auto_stages.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "util/error.h"

namespace plait::plan {
namespace {

ModelSpec spec(int layers, int dim, int ctx, int vocab) {
  ModelSpec m;
  m.layers = layers, m.dim = dim, m.heads = 4, m.ctx = ctx, m.vocab = vocab;
  return m;
}

TEST(AutoStages, TableOfModels) {
  struct Case {
    ModelSpec m;
    int pp;
    std::vector<int> want;
    double head_blocks;
  };
  const Case cases[] = {
      // bytes vocabulary: the head is a seventh of a block, the split by count stands
      {spec(4, 128, 128, 256), 2, {2, 2}, 512.0 / (24 * 128 + 4 * 128)},
      {spec(5, 128, 128, 256), 2, {3, 2}, 512.0 / (24 * 128 + 4 * 128)},
      // GPT-2 small: the head is 4.46 blocks, the last stage takes one block
      {spec(12, 768, 1024, 50257), 4, {4, 4, 3, 1}, 2.0 * 50257 / (24 * 768 + 4 * 1024)},
      // a large head on a narrow model: 56 blocks of work, one block beside it
      {spec(6, 64, 64, 50304), 2, {5, 1}, 2.0 * 50304 / (24 * 64 + 4 * 64)},
      // a head of 2.2 blocks: 4, 3, 1 (busiest 4 and 1 + 2.2) beats 3, 3, 2 (4.2)
      {spec(8, 64, 64, 2000), 3, {4, 3, 1}, 2.0 * 2000 / (24 * 64 + 4 * 64)},
      // a head of 1.7 blocks on 6 layers over 2 stages: 4, 2 (4 and 3.7), not 3, 3
      {spec(6, 64, 64, 1500), 2, {4, 2}, 2.0 * 1500 / (24 * 64 + 4 * 64)},
      // half a block: the count's split 3, 3, 2 already puts the least on the last
      {spec(8, 64, 64, 416), 3, {3, 3, 2}, 2.0 * 416 / (24 * 64 + 4 * 64)},
      {spec(3, 64, 64, 256), 1, {3}, 2.0 * 256 / (24 * 64 + 4 * 64)},
  };
  for (const Case& c : cases) {
    const AutoStages a = auto_stages(c.m, c.pp);
    EXPECT_EQ(a.sizes, c.want) << c.m.layers << " layers, vocab " << c.m.vocab << ", pp " << c.pp;
    EXPECT_NEAR(a.head_blocks, c.head_blocks, 1e-9);
  }
  EXPECT_THROW(auto_stages(spec(2, 64, 64, 256), 3), UsageError);
}

// Measured costs: the exact least-busiest partition for given extras and per-stage
// slowdowns (scale), against every partition tried.
TEST(AutoStages, ScaledTable) {
  struct Case {
    int layers;
    std::vector<double> extra, scale;
    std::vector<int> want;
  };
  const Case cases[] = {
      {6, {0, 0}, {1, 1}, {3, 3}},
      {6, {0, 1.7}, {1, 1}, {4, 2}},          // the head of 1.7 blocks: 4 vs 3.7
      {6, {0, 0}, {1, 2}, {4, 2}},            // stage 1 twice as slow: 4 vs 4
      {6, {0, 0.5}, {1, 3}, {5, 1}},          // 5 vs 4.5
      {6, {0, 0}, {3, 1}, {1, 5}},            // the first stage 3x slower: 3 vs 5
      {7, {0, 0}, {1, 1}, {4, 3}},            // ties: the earlier stage takes more
      {8, {0, 0, 2.2}, {1, 1, 1}, {4, 3, 1}},
      {8, {0, 0, 0}, {1, 1.5, 1}, {3, 2, 3}}, // 3, 2 x 1.5 = 3, 3
      {3, {0, 0, 0}, {1, 5, 1}, {1, 1, 1}},   // every stage keeps one block
  };
  for (const Case& c : cases) {
    const auto got = balance_stages_scaled(c.layers, c.extra, c.scale);
    EXPECT_EQ(got, c.want) << c.layers << " layers";
    // No other partition (each stage >= 1) has a less busy busiest stage.
    auto busiest = [&](const std::vector<int>& sz) {
      double b = 0;
      for (size_t s = 0; s < sz.size(); ++s) b = std::max(b, c.scale[s] * (sz[s] + c.extra[s]));
      return b;
    };
    const int P = static_cast<int>(c.scale.size());
    std::vector<int> sz(P, 1);
    std::function<void(int, int)> all = [&](int s, int left) {
      if (s == P - 1) {
        sz[s] = left;
        if (left >= 1) {
          EXPECT_GE(busiest(sz) + 1e-12, busiest(got));
        }
        return;
      }
      for (int k = 1; k <= left - (P - 1 - s); ++k) sz[s] = k, all(s + 1, left - k);
    };
    all(0, c.layers);
  }
  EXPECT_THROW(balance_stages_scaled(2, {0, 0, 0}, {1, 1, 1}), UsageError);
  EXPECT_THROW(balance_stages_scaled(4, {0}, {1, 1}), UsageError);
  EXPECT_EQ(auto_stages_measured(6, 0.5, {1, 3}).sizes, (std::vector<int>{5, 1}));
}

}  // namespace
}  // namespace plait::plan
