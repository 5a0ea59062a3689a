// Batched generation: many prompts of different lengths at once give each prompt
// exactly what it gets alone (greedy and sampled, every sampling option), requests
// may join between steps, and each stops on its own (max tokens, a stop string,
// end of text, cancel).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "data/gpt2_bpe.h"
#include "infer/engine.h"
#include "model/gpt.h"
#include "util/error.h"

namespace plait::infer {
namespace {

GPT model(int vocab = 256, int ctx = 32) {
  GPT m(GPTConfig{vocab, ctx, 2, 32, 4});
  m.init_weights(7);
  return m;
}

std::vector<Request> requests() {
  std::vector<Request> rs;
  std::mt19937 rng(3);
  const int lengths[] = {1, 7, 31, 40, 3, 12, 2, 19};
  for (int i = 0; i < 8; ++i) {
    Request r;
    for (int t = 0; t < lengths[i]; ++t) r.prompt.push_back(static_cast<int32_t>(rng() % 256));
    r.max_tokens = 10 + 7 * i;  // several pass ctx
    auto& s = r.sampling;
    s.seed = 100 + i;
    s.temperature = i % 4 == 0 ? 0.0f : 0.7f + 0.1f * i;
    s.top_k = i % 3 == 1 ? 20 : 0;
    s.top_p = i % 3 == 2 ? 0.9f : 1.0f;
    s.repetition_penalty = i % 2 ? 1.3f : 1.0f;
    rs.push_back(r);
  }
  return rs;
}

// Runs `rs` through one engine with `slots` slots; the i-th result per request.
std::vector<Result> run(GPT& m, const std::vector<Request>& rs, int slots,
                        const data::Tokenizer* tok = nullptr, bool recompute = false) {
  Decoder dec(m.config(), m.params, slots);
  Engine e(dec, tok, recompute);
  std::vector<Result> out(rs.size());
  for (size_t i = 0; i < rs.size(); ++i)
    e.submit(rs[i], {.on_token = {}, .on_done = [&out, i](const Result& r) { out[i] = r; }});
  e.run_until_idle();
  return out;
}

TEST(Engine, BatchedEqualsOneByOne) {
  GPT m = model();
  const auto rs = requests();
  const auto batched = run(m, rs, 8);
  const auto fewer_slots = run(m, rs, 3);  // requests join as others leave
  const auto recomputed = run(m, rs, 8, nullptr, true);
  for (size_t i = 0; i < rs.size(); ++i) {
    const auto alone = run(m, {rs[i]}, 1);
    EXPECT_EQ(alone[0].tokens.size(), static_cast<size_t>(rs[i].max_tokens)) << i;
    EXPECT_EQ(batched[i].tokens, alone[0].tokens) << "request " << i;
    EXPECT_EQ(fewer_slots[i].tokens, alone[0].tokens) << "request " << i;
    EXPECT_EQ(recomputed[i].tokens, alone[0].tokens) << "request " << i;
    EXPECT_EQ(batched[i].reason, FinishReason::length);
  }
}

TEST(Engine, SameSeedSameTokensOtherSeedOtherTokens) {
  GPT m = model();
  Request r = requests()[1];
  r.max_tokens = 40;
  const auto a = run(m, {r, r}, 2);
  EXPECT_EQ(a[0].tokens, a[1].tokens);
  Request other = r;
  other.sampling.seed = 999;
  EXPECT_NE(run(m, {other}, 1)[0].tokens, a[0].tokens);
}

TEST(Engine, JoinsBetweenSteps) {
  GPT m = model();
  const auto rs = requests();
  Decoder dec(m.config(), m.params, 4);
  Engine e(dec, nullptr);
  std::vector<Result> out(rs.size());
  auto add = [&](size_t i) {
    e.submit(rs[i], {.on_token = {}, .on_done = [&out, i](const Result& r) { out[i] = r; }});
  };
  add(0);
  add(1);
  for (int s = 0; s < 5; ++s) e.step();
  for (size_t i = 2; i < rs.size(); ++i) {
    add(i);
    e.step();
  }
  e.run_until_idle();
  for (size_t i = 0; i < rs.size(); ++i) EXPECT_EQ(out[i].tokens, run(m, {rs[i]}, 1)[0].tokens) << i;
}

TEST(Engine, StopStringCutsTheTextAndStreamsAllButIt) {
  GPT m = model();
  data::ByteTokenizer tok;
  Request r = requests()[0];  // greedy
  r.max_tokens = 60;
  const Result full = run(m, {r}, 1, &tok)[0];
  ASSERT_GE(full.text.size(), 12u);
  const std::string stop = full.text.substr(8, 3);  // first occurs at or before 8
  r.stop = {stop, "\x01\x02\x03\x04 never"};
  Decoder dec(m.config(), m.params, 1);
  Engine e(dec, &tok);
  std::string streamed;
  Result got;
  e.submit(r, {.on_token = [&](int32_t, std::string_view t) { streamed += t; },
               .on_done = [&](const Result& x) { got = x; }});
  e.run_until_idle();
  EXPECT_EQ(got.reason, FinishReason::stop);
  EXPECT_EQ(got.text, full.text.substr(0, full.text.find(stop)));
  EXPECT_EQ(streamed, got.text);
  EXPECT_EQ(std::string(finish_reason_name(got.reason)), "stop");
}

// A GPT-2-style tokenizer of the 256 byte tokens plus <|endoftext|> (id 256).
std::unique_ptr<data::Tokenizer> tiny_gpt2() {
  nlohmann::json enc;
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    const int cp = data::gpt2_byte_char(b);
    if (cp < 0x80) ch = static_cast<char>(cp);
    else ch = {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
    enc[ch] = b;
  }
  enc["<|endoftext|>"] = 256;
  return std::make_unique<data::Gpt2Tokenizer>(enc.dump(), "#version: 0.2\n", "test");
}

TEST(Engine, EndOfTextStopsTheSequence) {
  const auto tok = tiny_gpt2();
  ASSERT_EQ(end_of_text_id(*tok), 256);
  GPT m = model(257);
  // final LayerNorm outputs its bias u; the end-of-text row is 10 u: its logit wins
  const auto& t = m.table();
  const int C = m.config().dim;
  for (int c = 0; c < C; ++c) {
    m.params[t.lnf_w().offset + c] = 0;
    m.params[t.lnf_b().offset + c] = (c % 2 ? 1.0f : -1.0f);
    m.params[t.wte().offset + 256 * C + c] = 10.0f * (c % 2 ? 1.0f : -1.0f);
  }
  Request r;
  r.prompt = {65, 66};
  r.max_tokens = 5;
  r.sampling.temperature = 0;
  auto got = run(m, {r}, 1, tok.get())[0];
  EXPECT_EQ(got.reason, FinishReason::end_of_text);
  EXPECT_TRUE(got.tokens.empty());
  r.stop_at_end_of_text = false;
  got = run(m, {r}, 1, tok.get())[0];
  EXPECT_EQ(got.reason, FinishReason::length);
  EXPECT_EQ(got.tokens, std::vector<int32_t>(5, 256));
}

TEST(Engine, CancelFinishesARequestAndFreesItsSlot) {
  GPT m = model();
  Decoder dec(m.config(), m.params, 1);
  Engine e(dec, nullptr);
  Request r = requests()[0];
  r.max_tokens = 1000;
  std::vector<Result> out(2);
  const uint64_t a = e.submit(r, {.on_token = {}, .on_done = [&](const Result& x) { out[0] = x; }});
  r.max_tokens = 3;
  e.submit(r, {.on_token = {}, .on_done = [&](const Result& x) { out[1] = x; }});
  for (int s = 0; s < 4; ++s) e.step();
  EXPECT_EQ(e.pending(), 2u);
  e.cancel(a);
  e.run_until_idle();
  EXPECT_EQ(out[0].reason, FinishReason::cancelled);
  EXPECT_EQ(out[0].tokens.size(), 4u);
  EXPECT_EQ(out[1].reason, FinishReason::length);
  EXPECT_EQ(out[1].tokens.size(), 3u);
  EXPECT_EQ(e.pending(), 0u);
}

TEST(Engine, RefusesBadRequests) {
  GPT m = model();
  Decoder dec(m.config(), m.params, 1);
  Engine e(dec, nullptr);
  Request r;
  r.prompt = {1};
  Request bad = r;
  bad.max_tokens = -1;
  EXPECT_THROW(e.submit(bad, {}), UsageError);
  bad = r;
  bad.prompt = {256};
  EXPECT_THROW(e.submit(bad, {}), UsageError);
  bad = r;
  bad.stop = {"x"};  // no tokenizer
  EXPECT_THROW(e.submit(bad, {}), UsageError);
  bad = r;
  bad.sampling.temperature = std::nanf("");
  EXPECT_THROW(e.submit(bad, {}), UsageError);
  EXPECT_EQ(e.pending(), 0u);
}

}  // namespace
}  // namespace plait::infer
