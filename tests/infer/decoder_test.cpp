// The KV-cache decoder against the full recomputation it replaces: the same logits
// (up to rounding) and, greedily, the same tokens, also once the window slides past
// ctx; feeds of several sequences in one step equal each sequence alone.
#include <gtest/gtest.h>

#include <random>

#include "infer/decoder.h"
#include "infer/engine.h"
#include "model/generate.h"
#include "model/gpt.h"
#include "util/error.h"

namespace plait::infer {
namespace {

GPT model(int vocab = 97, int ctx = 24, uint64_t seed = 5) {
  GPT m(GPTConfig{vocab, ctx, 3, 32, 4});
  m.init_weights(seed);
  return m;
}

std::vector<int32_t> tokens(int n, uint32_t seed, int V = 97) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(rng() % V);
  return t;
}

std::vector<int32_t> engine_greedy(GPT& m, const std::vector<int32_t>& prompt, int n,
                                   bool recompute = false) {
  Decoder dec(m.config(), m.params, 1);
  Engine e(dec, nullptr, recompute);
  Request r;
  r.prompt = prompt;
  r.max_tokens = n;
  r.sampling.temperature = 0;
  Result out;
  e.submit(r, {.on_token = {}, .on_done = [&](const Result& x) { out = x; }});
  e.run_until_idle();
  return out.tokens;
}

TEST(Decoder, PrefillLogitsMatchFullForward) {
  GPT m = model();
  const int V = m.config().vocab, T = 17;
  const auto x = tokens(T, 1);
  m.forward(x.data(), nullptr, 1, T);
  Decoder dec(m.config(), m.params, 2);
  // slot 1: the whole prompt at once; slot 0: one token at a time
  const Feed all{1, x, 0};
  dec.step({&all, 1});
  for (int i = 0; i < V; ++i) ASSERT_NEAR(dec.logits(0)[i], m.logits(0, T - 1)[i], 1e-4) << i;
  for (int t = 0; t < T; ++t) {
    const Feed one{0, {x.data() + t, 1}, t};
    dec.step({&one, 1});
    m.forward(x.data(), nullptr, 1, t + 1);
    for (int i = 0; i < V; ++i)
      ASSERT_NEAR(dec.logits(0)[i], m.logits(0, t)[i], 1e-4) << "position " << t << " id " << i;
  }
}

TEST(Decoder, MixedFeedsInOneStepEqualEachAlone) {
  GPT m = model();
  const int V = m.config().vocab;
  const auto a = tokens(9, 2), b = tokens(3, 3);
  Decoder both(m.config(), m.params, 2), alone(m.config(), m.params, 1);
  const Feed fb[2] = {{0, a, 0}, {1, b, 0}};
  both.step(fb);
  const Feed fa{0, b, 0};
  alone.step({&fa, 1});
  for (int i = 0; i < V; ++i) ASSERT_NEAR(both.logits(1)[i], alone.logits(0)[i], 1e-5);
  // next step: a decodes one token while b continues alone in the other decoder
  const int32_t na = 7, nb = 11;
  const Feed next[2] = {{0, {&na, 1}, 9}, {1, {&nb, 1}, 3}};
  both.step(next);
  const Feed nb1{0, {&nb, 1}, 3};
  alone.step({&nb1, 1});
  for (int i = 0; i < V; ++i) ASSERT_NEAR(both.logits(1)[i], alone.logits(0)[i], 1e-5);
}

TEST(Decoder, RefusesFeedsThatDoNotFit) {
  GPT m = model();
  Decoder dec(m.config(), m.params, 1);
  const auto x = tokens(4, 4);
  const Feed past_ctx{0, x, 22};
  EXPECT_THROW(dec.step({&past_ctx, 1}), UsageError);
  const Feed bad_slot{3, x, 0};
  EXPECT_THROW(dec.step({&bad_slot, 1}), UsageError);
  const int32_t bad_token = 97;
  const Feed bad_tok{0, {&bad_token, 1}, 0};
  EXPECT_THROW(dec.step({&bad_tok, 1}), UsageError);
}

// Greedy generation with the cache picks exactly the tokens of generate() (the full
// recomputation per token), for short and long prompts and well past ctx (the window
// slides: the cache is recomputed over the last ctx tokens).
TEST(Decoder, GreedyTokensIdenticalToFullRecomputation) {
  GPT m = model();
  SampleOptions o;
  o.temperature = 0;
  o.tokens = 60;  // ctx 24: slides for most of them
  for (int len : {1, 5, 23, 24, 30}) {
    const auto prompt = tokens(len, 10 + len);
    const auto want = generate(m, prompt, o);
    EXPECT_EQ(engine_greedy(m, prompt, o.tokens), want) << "prompt of " << len;
    EXPECT_EQ(engine_greedy(m, prompt, o.tokens, /*recompute=*/true), want) << len;
  }
}

}  // namespace
}  // namespace plait::infer
