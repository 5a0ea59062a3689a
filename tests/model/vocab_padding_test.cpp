// A vocabulary padded to a multiple of 64 (GPT-2's 50257 -> 50304): the padding rows
// of wte take no part in the loss, get no gradient from it and are never sampled.
#include <gtest/gtest.h>

#include <random>

#include "model/generate.h"
#include "model/gpt.h"

namespace plait {
namespace {

constexpr int kV = 300, kVp = 320;

GPT tiny() {
  GPT m(GPTConfig{kV, 8, 2, 16, 2});
  m.init_weights(3);
  return m;
}

std::vector<int32_t> tokens(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(rng() % kV);
  return t;
}

TEST(VocabPadding, EmbeddingHasPaddedRows) {
  auto padded = [](int v) { return GPTConfig{v, 8, 2, 16, 2}.padded_vocab(); };
  EXPECT_EQ(padded(kV), kVp);
  EXPECT_EQ(padded(256), 256);
  EXPECT_EQ(padded(50257), 50304);
  GPT m = tiny();
  EXPECT_EQ(m.table().wte().shape, (std::vector<int64_t>{kVp, 16}));
}

TEST(VocabPadding, PaddingRowsChangeNothingAndGetNoGradient) {
  GPT m = tiny();
  const auto x = tokens(16, 1), y = tokens(16, 2);
  const float loss = m.forward(x.data(), y.data(), 2, 8);
  m.zero_grads();
  m.backward();
  const auto& wte = m.table().wte();
  for (size_t i = size_t{kV} * 16; i < size_t{kVp} * 16; ++i)
    ASSERT_EQ(m.grads[wte.offset + i], 0.0f) << "padding gradient at " << i;
  for (size_t i = size_t{kV} * 16; i < size_t{kVp} * 16; ++i) m.params[wte.offset + i] = 50.0f;
  EXPECT_EQ(m.forward(x.data(), y.data(), 2, 8), loss);  // bit for bit
}

TEST(VocabPadding, SamplingNeverPicksPadding) {
  GPT m = tiny();
  const auto& wte = m.table().wte();
  // huge padding rows make the padding logits the largest by far
  for (size_t i = size_t{kV} * 16; i < size_t{kVp} * 16; ++i) m.params[wte.offset + i] = 50.0f;
  for (float temperature : {0.0f, 1.0f, 5.0f}) {
    SampleOptions o;
    o.tokens = 40;
    o.temperature = temperature;
    for (int32_t t : generate(m, {1, 2, 3}, o)) ASSERT_LT(t, kV);
  }
}

}  // namespace
}  // namespace plait
