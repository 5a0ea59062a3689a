// plait sample as a user runs it: --prompts gives one JSON line per prompt, the same
// with any --batch and without the cache (--no-cache: full recomputation), also for
// prompts longer than ctx and generations past it; bad values exit 2 with one line.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "run_plait.h"

namespace plait::test {
namespace {

// GPT-2 weights in Hugging Face layout: 2 layers, dim 32, ctx 32, vocab 256 (bytes).
const std::string kModel = std::string(PLAIT_SOURCE_DIR) + "/tests/fixtures/gpt2_hf/model.safetensors";

std::vector<nlohmann::json> lines(const std::string& out) {
  std::vector<nlohmann::json> v;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) v.push_back(nlohmann::json::parse(l));
  return v;
}

TEST(SampleCli, PromptsFileSameOutputForEveryBatchAndWithoutCache) {
  TempDir d;
  write_file(d / "p.txt",
             "The \nA much longer prompt that runs past the context of 32 bytes\n\nx\n"
             R"({"prompt":"Q: ","max_tokens":7,"temperature":0.9,"top_k":5,"seed":3})" "\n"
             R"({"prompt":"Q: ","max_tokens":9,"temperature":0.9,"top_p":0.8,"repetition_penalty":1.3})" "\n");
  const std::string base = "sample --checkpoint " + kModel + " --prompts " + (d / "p.txt") +
                           " --tokens 45 --temperature 0.7 --seed 5";
  const Result one = run_plait(base + " --batch 1");
  ASSERT_EQ(one.code, 0) << one.err;
  const auto v = lines(one.out);
  ASSERT_EQ(v.size(), 5u) << one.out;
  EXPECT_EQ(v[0]["line"], 1);
  EXPECT_EQ(v[2]["line"], 4);  // the empty line 3 is skipped
  EXPECT_EQ(v[0]["tokens"], 45);
  EXPECT_EQ(v[3]["tokens"], 7);
  EXPECT_EQ(v[4]["tokens"], 9);
  EXPECT_EQ(v[0]["finish_reason"], "length");
  for (const char* more : {" --batch 4", " --batch 16", " --batch 3 --no-cache"}) {
    const Result r = run_plait(base + more);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, one.out) << more;
  }
  // one streamed prompt, greedy, past ctx: the same with and without the cache
  const std::string g = "sample --checkpoint " + kModel + " --prompt 'The ' --tokens 70 --temperature 0";
  const Result cached = run_plait(g), full = run_plait(g + " --no-cache");
  ASSERT_EQ(cached.code, 0) << cached.err;
  EXPECT_EQ(cached.out.size(), 4u + 70u + 1u);
  EXPECT_EQ(cached.out, full.out);
}

// --tp/--pp on threads: the same greedy text as one worker, streamed and batched.
TEST(SampleCli, EveryModelParallelLayoutWritesOneWorkersGreedyText) {
  TempDir d;
  write_file(d / "p.txt",
             "The \nA much longer prompt that runs past the context of 32 bytes\nx\n"
             R"({"prompt":"Q: ","max_tokens":7})" "\n");
  const std::string batch = "sample --checkpoint " + kModel + " --prompts " + (d / "p.txt") +
                            " --tokens 45 --temperature 0";
  const std::string one = "sample --checkpoint " + kModel + " --prompt 'The ' --tokens 70 --temperature 0";
  const Result b1 = run_plait(batch + " --batch 4"), o1 = run_plait(one);
  ASSERT_EQ(b1.code, 0) << b1.err;
  ASSERT_EQ(o1.code, 0) << o1.err;
  ASSERT_EQ(lines(b1.out).size(), 4u);
  for (const char* layout : {" --tp 2 --batch 4", " --pp 2 --batch 4", " --tp 2 --pp 2 --batch 4",
                             " --tp 4 --batch 3", " --pp 2 --batch 1"}) {
    const Result b = run_plait(batch + layout), o = run_plait(one + layout);
    ASSERT_EQ(b.code, 0) << layout << ": " << b.err;
    EXPECT_EQ(b.out, b1.out) << layout;
    ASSERT_EQ(o.code, 0) << layout << ": " << o.err;
    EXPECT_EQ(o.out, o1.out) << layout;
  }
}

TEST(SampleCli, StopStringEndsTheText) {
  TempDir d;
  const Result g = run_plait("sample --checkpoint " + kModel + " --prompt 'The ' --tokens 40 --temperature 0");
  ASSERT_EQ(g.code, 0) << g.err;
  const std::string text = g.out.substr(4, g.out.size() - 5);
  const std::string stop = text.substr(10, 2);
  if (stop.find('\'') != std::string::npos || stop.find('\n') != std::string::npos)
    GTEST_SKIP() << "the greedy text has a quote or newline at 10";
  write_file(d / "p.txt", "The \n");
  const Result r = run_plait("sample --checkpoint " + kModel + " --prompts " + (d / "p.txt") +
                             " --tokens 40 --temperature 0 --stop '" + stop + "'");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto v = lines(r.out);
  EXPECT_EQ(v[0]["finish_reason"], "stop");
  EXPECT_EQ(v[0]["text"], text.substr(0, text.find(stop)));
}

TEST(SampleCli, BadValuesExitTwoWithOneLine) {
  TempDir d;
  write_file(d / "bad.txt", "ok\n{\"prompt\": \"x\", \"top_p\": 7}\n");
  write_file(d / "empty.txt", "\n\n");
  ASSERT_EQ(mkfifo((d / "fifo").c_str(), 0600), 0);
  const std::string s = "sample --checkpoint " + kModel;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {" --temperature nan", "--temperature"},
      {" --temperature -1", "--temperature"},
      {" --top-k -3", "--top-k"},
      {" --top-p 0", "--top-p"},
      {" --top-p 1.5", "--top-p"},
      {" --repetition-penalty 0", "--repetition-penalty"},
      {" --repetition-penalty nan", "--repetition-penalty"},
      {" --tokens -1", "--tokens"},
      {" --batch 0", "--batch"},
      {" --prompts " + (d / "missing.txt"), "missing.txt"},
      {" --prompts " + (d / "bad.txt"), "bad.txt:2: top_p"},
      {" --prompts " + (d / "empty.txt"), "no prompt"},
      {" --prompt a --prompts " + (d / "bad.txt"), "exclude"},
      {" --prompts " + d.path.string(), "is not a regular file"},
      {" --prompts " + (d / "fifo"), "is not a regular file"},  // opening it would block
      {" --tp 3", "--tp 3"},
      {" --pp 3", "--pp 3"},
      {" --pp 2 --stages 1,2", "--stages"},
      {" --tp 2 --backend carrier-pigeon", "carrier-pigeon"},
  };
  for (const auto& [args, fragment] : cases) {
    const Result r = run_plait(s + args);
    EXPECT_EQ(r.code, 2) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ": " << r.err;
    EXPECT_NE(r.err.find(fragment), std::string::npos) << args << ": " << r.err;
  }
}

// bench sample --layouts: every layout's figures, ratios to the first, the same tokens.
TEST(BenchSampleCli, LayoutsReportLatencyBatchAndTheSameTokens) {
  const Result r = run_plait(
      "bench sample --layouts 1,tp2,pp2:t1 --layers 2 --dim 32 --heads 2 --tokens 4 --batch 3 "
      "--batch-tokens 5 --batch-ctx 16 --reps 2 --peer none --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["layouts"].size(), 3u);
  EXPECT_EQ(j["layouts"][1]["tp"], 2);
  EXPECT_EQ(j["layouts"][2]["pp"], 2);
  EXPECT_EQ(j["layouts"][2]["blas_threads_per_rank"], 1);
  EXPECT_EQ(j["layouts"][0]["latency_ratio"], 1.0);
  for (const auto& l : j["layouts"]) {
    EXPECT_TRUE(l["same_tokens"].get<bool>()) << l;
    EXPECT_GT(l["token_ms"].get<double>(), 0) << l;
    EXPECT_GT(l["batch_over_one"].get<double>(), 0) << l;
    EXPECT_EQ(l["token_ms_rounds"].size(), 2u) << l;
  }
  const Result bad = run_plait("bench sample --layouts tp2,zz3 --peer none");
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_NE(bad.err.find("zz3"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace plait::test

namespace plait::test {
namespace {

// bench sample --json on a tiny model: every figure is there and positive, and the
// cache, the recomputation and the batch produce the same tokens.
TEST(BenchSampleCli, JsonHasEveryRatioAndTheSameTokens) {
  const Result r = run_plait(
      "bench sample --layers 1 --dim 32 --heads 2 --ctx 16,32 --tokens 4 --batch 3 "
      "--batch-tokens 5 --batch-ctx 16 --reps 1 --blas-threads 1 --peer none --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["cache_vs_recompute"].size(), 2u);
  for (const auto& c : j["cache_vs_recompute"]) {
    EXPECT_TRUE(c["same_tokens"].get<bool>()) << c;
    EXPECT_GT(c["ratio"].get<double>(), 0) << c;
    EXPECT_GT(c["decode_ratio"].get<double>(), 0) << c;
  }
  EXPECT_EQ(j["cache_vs_recompute"][1]["ctx"], 32);
  EXPECT_TRUE(j["batch"]["same_tokens"].get<bool>());
  EXPECT_GT(j["batch"]["ratio"].get<double>(), 0);
  EXPECT_TRUE(j["machine"].contains("cpu"));
  const Result bad = run_plait("bench sample --ctx 16 --tokens 16 --peer none");
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_NE(bad.err.find("--tokens"), std::string::npos) << bad.err;
}

// The PyTorch peer (tools/torch_gpt.py --generate, its own KV cache) generates the same
// greedy tokens as plait from the same weights, and both rates are reported. Skipped,
// with the reason, where /usr/bin/python3 has no torch (scripts/setup.sh does not
// install it).
TEST(BenchSampleCli, PyTorchPeerGeneratesTheSameGreedyTokens) {
  const Result r = run_plait(
      "bench sample --layers 2 --dim 32 --heads 2 --ctx 24 --tokens 8 --batch 2 "
      "--batch-tokens 2 --batch-ctx 16 --reps 1 --blas-threads 1 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto peer = nlohmann::json::parse(r.out).at("peer");
  if (peer.contains("skipped")) GTEST_SKIP() << "PyTorch peer: " << peer["skipped"].get<std::string>();
  EXPECT_TRUE(peer.at("same_tokens").get<bool>()) << peer;
  EXPECT_GT(peer.at("decode_tok_s").get<double>(), 0) << peer;
  EXPECT_GT(peer.at("plait_decode_tok_s").get<double>(), 0) << peer;
}

}  // namespace
}  // namespace plait::test
