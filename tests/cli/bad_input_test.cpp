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

TEST(BadInput, ZeroAndNegativeSizes) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  for (const char* flag : {"--layers 0", "--dim -4", "--batch 0", "--ctx 0", "--steps -1",
                           "--heads 0", "--workers 0"}) {
    const std::string name = std::string(flag).substr(0, std::string(flag).find(' '));
    expect_usage_error(run_plait("train --data " + (d / "c.txt") + kTiny + " " + flag), name);
  }
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

}  // namespace
}  // namespace plait::test
