// The sampling options, each against what it must do on hand-made logits, and the
// refusal of values that make no sense.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "data/tokenizer.h"
#include "infer/request_json.h"
#include "infer/sampling.h"
#include "util/error.h"

namespace plait::infer {
namespace {

const std::vector<float> kLogits = {1.0f, 3.0f, 2.0f, 3.0f, -1.0f, 0.5f};
constexpr int kV = 6;

std::map<int32_t, int> counts(const SamplingParams& p, int draws,
                              std::vector<int32_t> history = {}) {
  Rng rng(p.seed);
  std::vector<float> scratch;
  std::map<int32_t, int> c;
  for (int i = 0; i < draws; ++i) ++c[pick_token(kLogits, kV, p, history, rng, scratch)];
  return c;
}

TEST(Sampling, GreedyTakesTheFirstLargest) {
  SamplingParams p;
  p.temperature = 0;
  EXPECT_EQ(counts(p, 5), (std::map<int32_t, int>{{1, 5}}));
}

TEST(Sampling, TopKOneAndTinyTopPAreGreedy) {
  SamplingParams p;
  p.temperature = 1.5f;
  p.top_k = 1;
  EXPECT_EQ(counts(p, 50), (std::map<int32_t, int>{{1, 50}}));
  p.top_k = 0;
  p.top_p = 1e-4f;
  EXPECT_EQ(counts(p, 50), (std::map<int32_t, int>{{1, 50}}));
}

TEST(Sampling, TopKKeepsOnlyTheKLikeliest) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 3;  // ids 1, 3 (3.0) and 2 (2.0)
  const auto c = counts(p, 2000);
  for (const auto& [id, n] : c) EXPECT_TRUE(id == 1 || id == 2 || id == 3) << id;
  EXPECT_EQ(c.size(), 3u);
}

TEST(Sampling, TopPKeepsTheSmallestNucleus) {
  // probabilities at T=1: e^3, e^3 of ~0.73 together; + e^2 reaches ~0.88
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.7f;
  auto c = counts(p, 2000);
  EXPECT_EQ(c.size(), 2u);
  EXPECT_TRUE(c.count(1) && c.count(3));
  p.top_p = 0.8f;
  c = counts(p, 2000);
  EXPECT_EQ(c.size(), 3u);
  EXPECT_TRUE(c.count(2));
}

TEST(Sampling, RepetitionPenaltyPushesSeenIdsDown) {
  SamplingParams p;
  p.temperature = 0;
  p.repetition_penalty = 2.0f;  // 3.0 -> 1.5 for ids 1 and 3: id 2 (2.0) wins
  EXPECT_EQ(counts(p, 1, {1, 3, 1}), (std::map<int32_t, int>{{2, 1}}));
  // a negative logit is multiplied: -1 seen stays below everything
  EXPECT_EQ(counts(p, 1, {4}), (std::map<int32_t, int>{{1, 1}}));
}

TEST(Sampling, ReproducibleForAFixedSeed) {
  SamplingParams p;
  p.temperature = 2.0f;
  p.seed = 9;
  EXPECT_EQ(counts(p, 300), counts(p, 300));
  Rng a(9), b(9);
  std::vector<float> s;
  std::vector<int32_t> x, y;
  for (int i = 0; i < 50; ++i) {
    x.push_back(pick_token(kLogits, kV, p, {}, a, s));
    y.push_back(pick_token(kLogits, kV, p, {}, b, s));
  }
  EXPECT_EQ(x, y);
}

TEST(Sampling, NeverPicksPaddingColumns) {
  std::vector<float> l = kLogits;
  l.resize(64, 100.0f);  // padding columns with huge logits
  SamplingParams p;
  p.temperature = 5.0f;
  Rng rng(1);
  std::vector<float> s;
  for (int i = 0; i < 200; ++i) ASSERT_LT(pick_token(l, kV, p, {}, rng, s), kV);
}

TEST(Sampling, RefusesNonsense) {
  auto refused = [](auto edit) {
    SamplingParams p;
    edit(p);
    EXPECT_THROW(p.validate(), UsageError);
  };
  refused([](SamplingParams& p) { p.temperature = std::nanf(""); });
  refused([](SamplingParams& p) { p.temperature = -0.5f; });
  refused([](SamplingParams& p) { p.temperature = INFINITY; });
  refused([](SamplingParams& p) { p.top_k = -1; });
  refused([](SamplingParams& p) { p.top_p = 0; });
  refused([](SamplingParams& p) { p.top_p = 1.5f; });
  refused([](SamplingParams& p) { p.top_p = std::nanf(""); });
  refused([](SamplingParams& p) { p.repetition_penalty = 0; });
  refused([](SamplingParams& p) { p.repetition_penalty = std::nanf(""); });
  try {
    SamplingParams p;
    p.top_p = 2;
    p.validate("--");
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--top-p"), std::string::npos) << e.what();
  }
}

TEST(RequestJson, ReadsEveryFieldAndRefusesBadOnes) {
  data::ByteTokenizer tok;
  Request d;
  d.max_tokens = 7;
  auto r = request_from_json(nlohmann::json::parse(
                                 R"({"prompt":"hi","max_tokens":3,"temperature":0.5,"top_k":4,
                                     "top_p":0.9,"repetition_penalty":1.2,"seed":11,
                                     "stop":["a","b"],"stream":true,"user":"x"})"),
                             tok, d);
  EXPECT_EQ(r.prompt, "hi");
  EXPECT_EQ(r.request.prompt, (std::vector<int32_t>{'h', 'i'}));
  EXPECT_EQ(r.request.max_tokens, 3);
  EXPECT_FLOAT_EQ(r.request.sampling.temperature, 0.5f);
  EXPECT_EQ(r.request.sampling.top_k, 4);
  EXPECT_FLOAT_EQ(r.request.sampling.top_p, 0.9f);
  EXPECT_FLOAT_EQ(r.request.sampling.repetition_penalty, 1.2f);
  EXPECT_EQ(r.request.sampling.seed, 11u);
  EXPECT_EQ(r.request.stop, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(r.stream);
  EXPECT_EQ(request_from_json(nlohmann::json::parse(R"({"prompt":""})"), tok, d).request.max_tokens, 7);
  for (const char* bad :
       {R"([1])", R"({})", R"({"prompt":3})", R"({"prompt":"a","max_tokens":-1})",
        R"({"prompt":"a","max_tokens":1.5})", R"({"prompt":"a","temperature":"hot"})",
        R"({"prompt":"a","temperature":-1})", R"({"prompt":"a","top_p":0})",
        R"({"prompt":"a","seed":-3})", R"({"prompt":"a","stop":[""]})",
        R"({"prompt":"a","stop":5})", R"({"prompt":"a","stream":"yes"})",
        R"({"prompt":"a","top_k":99999999999})"})
    EXPECT_THROW(request_from_json(nlohmann::json::parse(bad), tok, d), UsageError) << bad;
  EXPECT_THROW(request_from_json(nlohmann::json::parse(R"({"prompt":"abcdef"})"), tok, d, 4),
               UsageError);
}

}  // namespace
}  // namespace plait::infer
