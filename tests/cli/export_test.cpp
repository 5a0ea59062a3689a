// Models in and out from the command line: `train --init-from` a Hugging Face GPT-2
// (tests/fixtures/gpt2_hf, written by tools/make_hf_fixture.py) under three layouts,
// `export` of their checkpoints, dtype round trips, and one-line errors for bad files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fault/float16.h"
#include "fault/weights.h"
#include "model/gpt.h"
#include "run_plait.h"

namespace plait::test {
namespace {

namespace st = safetensors;
const std::string kHf = std::string(PLAIT_SOURCE_DIR) + "/tests/fixtures/gpt2_hf";

// |a - b| / |b| in L2 norm over every weight of two sources of one model (the
// project's exactness measure: tests/parallel/train_helpers.h).
double rel_l2(const WeightSource& a, const WeightSource& b) {
  double d = 0, n = 0;
  const ParamTable table(a.config());
  for (const ParamSpec& s : table.specs()) {
    const auto x = a.read(s.name), y = b.read(s.name);
    for (size_t i = 0; i < x.size(); ++i) d += (x[i] - y[i]) * double(x[i] - y[i]), n += y[i] * double(y[i]);
  }
  return std::sqrt(d / n);
}

// The training losses of a run's metrics log.
// prefix + i + suffix, built by appending (GCC 12's -Wrestrict misfires on
// "literal" + std::string inside these long test bodies).
std::string numbered(const char* prefix, size_t i, const char* suffix = "") {
  std::string s = prefix;
  s.append(std::to_string(i)).append(suffix);
  return s;
}

std::vector<double> losses(const std::string& log) {
  std::vector<double> out;
  std::istringstream in(slurp(log));
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (!j.contains("event") && j.contains("loss")) out.push_back(j["loss"]);
  }
  return out;
}

// Fine-tuning the imported GPT-2 for 20 steps on another corpus (at a shorter context)
// trains the same model under every layout, and the export of the dp2 x tp2 x pp2
// checkpoint equals the export of the one-worker run.
TEST(FineTune, InitFromHfThenTwentyStepsAgreeAcrossLayoutsAndExportsMatch) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const std::string common = "train --init-from " + kHf + " --data " + (d / "c.txt") +
                             " --ctx 16 --batch 8 --steps 20 --lr 3e-3 --eval-every 0"
                             " --no-progress --checkpoint-dir ";
  const std::vector<std::string> layouts = {"--workers 1", "--tp 2 --pp 2 --micro-batches 2",
                                            "--dp 2 --tp 2 --pp 2 --micro-batches 2",
                                            "--workers 2 --sync ring"};
  for (size_t i = 0; i < layouts.size(); ++i) {
    const std::string run = d / numbered("run", i);
    const Result t = run_plait(common + run + " --log " + run + ".jsonl " + layouts[i]);
    ASSERT_EQ(t.code, 0) << layouts[i] << ": " << t.err;
    const Result e = run_plait("export " + run + " --format hf --out " + (d / numbered("e", i)) + " --json");
    ASSERT_EQ(e.code, 0) << e.err;
    EXPECT_EQ(nlohmann::json::parse(e.out).at("tensors").get<int>(), 2 + 2 * 12 + 2);
  }
  const WeightSource base = WeightSource::open(d / "e0");
  EXPECT_EQ(base.format(), WeightFormat::hf);
  EXPECT_EQ(base.config(), (GPTConfig{256, 16, 2, 32, 4}));  // the run's ctx
  const std::vector<double> base_losses = losses(d / "run0.jsonl");
  ASSERT_EQ(base_losses.size(), 20u);
  for (size_t i = 1; i < layouts.size(); ++i) {
    EXPECT_LT(rel_l2(WeightSource::open(d / numbered("e", i)), base), 1e-5) << layouts[i];
    const std::vector<double> l = losses(d / numbered("run", i, ".jsonl"));
    ASSERT_EQ(l.size(), base_losses.size()) << layouts[i];
    for (size_t k = 0; k < l.size(); ++k)
      EXPECT_LT(std::fabs(l[k] - base_losses[k]) / base_losses[k], 1e-5) << layouts[i] << " step " << k + 1;
  }
  // ...and the run did move the weights away from the imported ones.
  GPTConfig short_ctx = base.config();
  GPT start(short_ctx);
  read_weights(WeightSource::open(kHf), start.table(), start.params);
  GPT end(short_ctx);
  read_weights(base, end.table(), end.params);
  double moved = 0;
  for (size_t i = 0; i < start.params.size(); ++i)
    moved = std::max(moved, static_cast<double>(std::fabs(start.params[i] - end.params[i])));
  EXPECT_GT(moved, 1e-3);
}

// F16 weights in, F32 training, BF16 out, and back in: every value is the BF16
// rounding of the F32 checkpoint's.
TEST(FineTune, DtypeRoundTripF16InBf16Out) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const Result t = run_plait("train --init-from " + kHf + "/model-f16.safetensors --data " +
                             (d / "c.txt") + " --ctx 16 --batch 4 --steps 3 --eval-every 0"
                             " --workers 1 --no-progress --checkpoint-dir " + (d / "run"));
  ASSERT_EQ(t.code, 0) << t.err;
  const Result e = run_plait("export " + (d / "run") + " --format hf --dtype bf16 --out " + (d / "b"));
  ASSERT_EQ(e.code, 0) << e.err;
  const WeightSource f32 = WeightSource::open(d / "run"), bf16 = WeightSource::open(d / "b");
  EXPECT_EQ(bf16.dtype(), st::DType::BF16);
  const ParamTable table(f32.config());
  for (const ParamSpec& s : table.specs()) {
    const auto x = f32.read(s.name), y = bf16.read(s.name);
    for (size_t i = 0; i < x.size(); ++i)
      ASSERT_EQ(y[i], st::bf16_to_f32(st::f32_to_bf16(x[i]))) << s.name << "[" << i << "]";
  }
  const Result i = run_plait("inspect " + (d / "b") + " --json");
  ASSERT_EQ(i.code, 0) << i.err;
  EXPECT_EQ(nlohmann::json::parse(i.out).at("model").at("dtype"), "BF16");
}

// sample, eval and inspect take bare files and weight directories too.
TEST(FineTune, SampleEvalInspectTakeFilesAndDirectories) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const Result t = run_plait("train --data " + (d / "c.txt") + " --layers 1 --dim 16 --heads 2"
                             " --ctx 16 --batch 4 --steps 2 --workers 1 --no-progress"
                             " --checkpoint-dir " + (d / "run"));
  ASSERT_EQ(t.code, 0) << t.err;
  ASSERT_EQ(run_plait("export " + (d / "run") + " --format nanogpt --out " + (d / "m.safetensors")).code, 0);
  const Result s = run_plait("sample --checkpoint " + (d / "m.safetensors") + " --prompt The --tokens 10");
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_GE(s.out.size(), 10u);
  const Result ev = run_plait("eval --checkpoint " + kHf + " --data " + (d / "c.txt") + " --json");
  ASSERT_EQ(ev.code, 0) << ev.err;
  EXPECT_NEAR(nlohmann::json::parse(ev.out).at("loss").get<double>(), std::log(256.0), 0.5);
  const Result i = run_plait("inspect " + kHf + " --json");
  ASSERT_EQ(i.code, 0) << i.err;
  EXPECT_EQ(nlohmann::json::parse(i.out).at("model").at("format"), "hf");
}

void expect_one_line_exit_2(const Result& r, const std::vector<std::string>& fragments) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  for (const auto& f : fragments) EXPECT_NE(r.err.find(f), std::string::npos) << "'" << f << "' not in " << r.err;
}

TEST(FineTune, BadWeightsExitTwoWithOneLine) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const std::string whole = slurp(kHf + "/model.safetensors");
  write_file(d / "cut.safetensors", whole.substr(0, whole.size() / 2));
  expect_one_line_exit_2(run_plait("train --init-from " + (d / "cut.safetensors") + " --data " + (d / "c.txt")),
                         {"cut.safetensors", "truncated file?"});
  expect_one_line_exit_2(run_plait("train --init-from " + kHf + " --layers 3 --data " + (d / "c.txt")),
                         {"--layers 3 differs from the 2 of the weights"});
  expect_one_line_exit_2(run_plait("train --init-from " + kHf + " --ctx 64 --data " + (d / "c.txt")),
                         {"ctx 64 is longer than the weights' 32"});
  expect_one_line_exit_2(run_plait("sample --checkpoint " + (d / "cut.safetensors")), {"cut.safetensors"});
  expect_one_line_exit_2(run_plait("export " + kHf + " --format onnx --out " + (d / "x")), {"--format 'onnx'"});
  expect_one_line_exit_2(run_plait("export " + (d / "nothing") + " --format hf --out " + (d / "x")),
                         {"nothing"});
}

}  // namespace
}  // namespace plait::test
