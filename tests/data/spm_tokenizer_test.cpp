// SentencePiece through libsentencepiece: a model trained on a slice of the demo
// corpus (small vocabulary, so CI stays quick) round-trips text exactly.
#include "data/spm_tokenizer.h"

#include <gtest/gtest.h>

#include "data/corpus.h"
#include "data_helpers.h"

namespace plait::data {
namespace {

using testing::TempDir;
using testing::expect_usage_error;

// The first ~400 KB of the fortunes corpus, as one file.
std::string demo_slice(const TempDir& t) {
  std::string text;
  for (const auto& f : default_corpus_files()) {
    const auto b = read_file_bytes(f);
    text.append(b.begin(), b.end());
    if (text.size() > 400000) break;
  }
  return t.file("slice.txt", text);
}

class Spm : public ::testing::TestWithParam<const char*> {};

TEST_P(Spm, TrainedOnTheDemoCorpusRoundTrips) {
  TempDir t;
  SpmTrainOptions o;
  o.files = {demo_slice(t)};
  o.vocab = 1000;
  o.type = GetParam();
  o.out = t.path("tok.model");
  o.threads = 2;
  train_spm(o);
  const auto tok = load_tokenizer("spm:" + o.out);
  EXPECT_EQ(tok->type(), "spm");
  EXPECT_EQ(tok->vocab_size(), 1000);
  for (const std::string& text :
       {std::string("The quick brown fox.\n\n  Indented  line\twith tab\n"),
        std::string("naïve café — 東京 😀 and bytes \x01\x7f"), std::string("   "),
        std::string("A fortune: \"Q: How many...\" -- Anonymous\n%\n")}) {
    const auto ids = tok->encode(text);
    EXPECT_FALSE(ids.empty());
    for (int32_t id : ids) ASSERT_LT(id, tok->vocab_size());
    EXPECT_EQ(tok->decode(ids), text) << text;
  }
  // common English compresses: fewer tokens than bytes
  const std::string english = "There is no time like the present for the people of the world.";
  EXPECT_LT(tok->encode(english).size() * 2, english.size());
  // the files carry it: reloading gives the same ids
  write_tokenizer_files(*tok, t.path("copy"));
  auto again = load_tokenizer_from_dir("spm", t.path("copy"));
  EXPECT_EQ(again->fingerprint(), tok->fingerprint());
  EXPECT_EQ(again->encode(english), tok->encode(english));
}

INSTANTIATE_TEST_SUITE_P(Types, Spm, ::testing::Values("bpe", "unigram"));

TEST(SpmErrors, BadModelAndOptionsAreNamed) {
  TempDir t;
  const std::string bad = t.file("bad.model", "this is not a protobuf");
  expect_usage_error([&] { load_tokenizer("spm:" + bad); }, {"bad.model", "SentencePiece"});
  expect_usage_error([&] { load_tokenizer("spm:" + t.path("none.model")); },
                     {"none.model", "does not exist"});
  SpmTrainOptions o;
  o.files = {t.file("a.txt", "some text\n")};
  o.out = t.path("x.model");
  o.type = "wordpiece";
  expect_usage_error([&] { train_spm(o); }, {"--type"});
  o.type = "bpe";
  o.files = {t.file("e.txt", "")};
  expect_usage_error([&] { train_spm(o); }, {"e.txt", "empty"});
}

}  // namespace
}  // namespace plait::data
