// Activation recomputation (model/recompute.h) is exact: the gradients of every mode
// equal --recompute none bit for bit (the same kernels recompute the same values), on
// a whole model and on pipeline stages with micro-batches in flight; the kept slots
// shrink as the mode says.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "model/gpt.h"
#include "util/error.h"

namespace plait {
namespace {

const GPTConfig kCfg{256, 16, 3, 32, 4};

std::vector<int32_t> ids(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> v(n);
  for (auto& t : v) t = static_cast<int32_t>(rng() % 256);
  return v;
}

// Two micro-batches of different sizes (the scratch is shared), forwards of both
// before their backwards: the gradients and the losses.
struct Pass {
  std::vector<float> grads;
  double loss = 0;
};
Pass two_micro_batches(Recompute r) {
  GPT m(kCfg);
  m.init_weights(5);
  m.set_recompute(r);
  const int T = kCfg.ctx;
  const auto tok = ids(3 * T, 1), tgt = ids(3 * T, 2);
  Pass p;
  p.loss += m.forward(0, 2, T, tok.data(), nullptr, tgt.data());
  p.loss += m.forward(1, 1, T, tok.data() + 2 * T, nullptr, tgt.data() + 2 * T);
  m.backward(1, nullptr);
  m.backward(0, nullptr);
  p.grads = m.grads;
  return p;
}

TEST(Recompute, EveryModeGivesTheSameGradientsBitForBit) {
  const Pass none = two_micro_batches(Recompute::none);
  for (Recompute r : {Recompute::selective, Recompute::block}) {
    const Pass got = two_micro_batches(r);
    EXPECT_EQ(got.loss, none.loss) << to_string(r);
    EXPECT_TRUE(got.grads == none.grads) << to_string(r);
  }
}

// A middle pipeline stage (blocks [1, 3), not first, not last): d(x) and the gradients.
TEST(Recompute, AStageReturnsTheSameInputGradient) {
  auto run = [](Recompute r) {
    ShardLayout l{1, 0, 1, 3, false, false};
    GPT m(kCfg, l);
    m.init_weights(9);
    m.set_recompute(r);
    const int T = kCfg.ctx, B = 2;
    std::mt19937 rng(3);
    std::normal_distribution<float> nd;
    std::vector<float> x(size_t(B) * T * kCfg.dim), dout(x.size());
    for (auto& v : x) v = nd(rng);
    for (auto& v : dout) v = nd(rng);
    m.forward(0, B, T, nullptr, x.data(), nullptr);
    const float* out = m.output(0);
    std::vector<float> got(out, out + x.size());
    const float* dx = m.backward(0, dout.data());
    got.insert(got.end(), dx, dx + x.size());
    got.insert(got.end(), m.grads.begin(), m.grads.end());
    return got;
  };
  const auto none = run(Recompute::none);
  EXPECT_TRUE(run(Recompute::selective) == none);
  EXPECT_TRUE(run(Recompute::block) == none);
}

TEST(Recompute, KeptSlotsShrink) {
  GPT m(kCfg);
  const int B = 4, T = kCfg.ctx;
  const size_t none = m.slot_floats(B, T);
  m.set_recompute(Recompute::selective);
  const size_t selective = m.slot_floats(B, T);
  m.set_recompute(Recompute::block);
  const size_t block = m.slot_floats(B, T);
  const size_t N = size_t(B) * T, C = kCfg.dim;
  // selective drops the attention probabilities: B x NH x T x T per block
  EXPECT_EQ(none - selective, size_t(kCfg.layers) * B * kCfg.heads * T * T);
  // block keeps N x C per block of the 16 C + 4 per token and the probabilities
  EXPECT_EQ(none - block, size_t(kCfg.layers) * (N * (15 * C + 4) + size_t(B) * kCfg.heads * T * T));
}

TEST(Recompute, ModeNames) {
  for (Recompute r : {Recompute::none, Recompute::selective, Recompute::block})
    EXPECT_EQ(parse_recompute(to_string(r)), r);
  EXPECT_THROW(parse_recompute("full"), UsageError);
}

}  // namespace
}  // namespace plait
