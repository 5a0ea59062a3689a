// Bad input gets exit code 2 and ONE line that names the problem, never a crash.
#include <gtest/gtest.h>

#include <algorithm>

#include "run_plait.h"

namespace plait::test {
namespace {

const char* kTiny = " --layers 1 --dim 16 --heads 2 --ctx 8 --batch 2 --steps 2 --no-progress";

void expect_usage_error(const Result& r, const std::string& needle) {
  EXPECT_EQ(r.code, 2) << "stderr: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "not one line: " << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "'" << needle << "' not in: " << r.err;
}

TEST(BadInput, MissingDataFile) {
  expect_usage_error(run_plait(std::string("train --data /nonexistent/corpus.txt") + kTiny),
                     "/nonexistent/corpus.txt");
}

TEST(BadInput, EmptyDataFile) {
  TempDir d;
  write_file(d / "empty.txt", "");
  expect_usage_error(run_plait("train --data " + (d / "empty.txt") + kTiny), "empty.txt");
}

TEST(BadInput, CorpusShorterThanContext) {
  TempDir d;
  write_file(d / "short.txt", "abc");
  expect_usage_error(run_plait("train --data " + (d / "short.txt") + kTiny), "short.txt");
}

TEST(BadInput, DimNotDivisibleByHeads) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  expect_usage_error(run_plait("train --data " + (d / "c.txt") + kTiny + " --dim 15 --heads 2"),
                     "--dim");
}

TEST(BadInput, ZeroStageAndCombinations) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const std::string base = "train --data " + (d / "c.txt") + kTiny + " --workers 2";
  expect_usage_error(run_plait(base + " --zero 4"), "--zero");
  expect_usage_error(run_plait(base + " --zero 3 --servers 1"), "--zero 3");
  expect_usage_error(run_plait(base + " --zero 1 --sync ring"), "--zero 1");
}

TEST(BadInput, ZeroAndNegativeSizes) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  for (const char* flag : {"--layers 0", "--dim -4", "--batch 0", "--ctx 0", "--steps -1",
                           "--heads 0", "--workers 0"}) {
    const std::string name = std::string(flag).substr(0, std::string(flag).find(' '));
    expect_usage_error(run_plait("train --data " + (d / "c.txt") + kTiny + " " + flag), name);
  }
}

// Each bad dp x tp x pp layout: exit 2, one line naming which and why.
TEST(BadInput, BadModelParallelLayouts) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const std::string base = "train --data " + (d / "c.txt") +
                           " --layers 2 --dim 16 --heads 2 --ctx 8 --batch 4 --steps 2 --no-progress ";
  expect_usage_error(run_plait(base + "--workers 3 --tp 2"), "there are 3 workers");
  expect_usage_error(run_plait(base + "--tp 4"), "does not divide --heads 2");
  expect_usage_error(run_plait(base + "--pp 3"), "only 2 blocks");
  expect_usage_error(run_plait(base + "--pp 2 --micro-batches 3"), "--micro-batches 3");
  expect_usage_error(run_plait(base + "--pp 2 --stages 1,2"), "--stages sums to 3");
  expect_usage_error(run_plait(base + "--pp 2 --schedule zigzag"), "--schedule");
}

TEST(BadInput, UnknownFlagAndCommand) {
  expect_usage_error(run_plait("train --no-such-flag 3"), "--no-such-flag");
  expect_usage_error(run_plait("frobnicate"), "frobnicate");
}

TEST(BadInput, ResumeWithoutCheckpoint) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  expect_usage_error(run_plait("train --data " + (d / "c.txt") + kTiny + " --resume " +
                               "--checkpoint-dir " + (d / "run")),
                     "checkpoint");
}

TEST(BadInput, EvalOfMissingCheckpoint) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  expect_usage_error(run_plait("eval --checkpoint " + (d / "nothing") + " --data " + (d / "c.txt")),
                     "nothing");
}

// A checkpoint damaged in each way the loader checks: `plait eval` exits 2 with one
// line naming the problem.
class DamagedCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(d / "c.txt", small_corpus());
    const Result r = run_plait("train --data " + (d / "c.txt") + kTiny + " --checkpoint-dir " +
                               (d / "run"));
    ASSERT_EQ(r.code, 0) << r.err;
    model = d / "run/step-00000002/model.safetensors";
    bytes = slurp(model);
    ASSERT_GT(bytes.size(), 100u);
  }
  Result eval() {
    return run_plait("eval --checkpoint " + (d / "run") + " --data " + (d / "c.txt"));
  }
  TempDir d;
  std::string model, bytes;
};

TEST_F(DamagedCheckpoint, Truncated) {
  write_file(model, bytes.substr(0, bytes.size() / 2));
  expect_usage_error(eval(), "model.safetensors");
}

TEST_F(DamagedCheckpoint, HeaderLongerThanFile) {
  std::string b = bytes;
  b[6] = 0x10;  // header length now ~2^48 bytes
  write_file(model, b);
  expect_usage_error(eval(), "model.safetensors");
}

TEST_F(DamagedCheckpoint, ChecksumMismatch) {
  std::string b = bytes;
  b[b.size() - 1] ^= 0x40;  // one bit of the last weight
  write_file(model, b);
  expect_usage_error(eval(), "model.safetensors");
}

TEST_F(DamagedCheckpoint, ResumeIntoAnotherModelShape) {
  const Result r = run_plait("train --data " + (d / "c.txt") + kTiny + " --dim 24 --resume " +
                             "--steps 4 --checkpoint-dir " + (d / "run"));
  EXPECT_EQ(r.code, 2) << r.err;
}

}  // namespace
}  // namespace plait::test
