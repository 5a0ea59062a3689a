// Output paths (--log, --trace, --checkpoint-dir) are made ready before training:
// missing parent directories are created, and a path that cannot be written is
// refused with exit 2 and one line BEFORE the first step.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "run_plait.h"

namespace plait::test {
namespace {

namespace fs = std::filesystem;

const char* kTiny = " --layers 1 --dim 16 --heads 2 --ctx 8 --batch 2 --steps 3 --no-progress";

TEST(OutputPaths, MissingParentDirectoriesAreCreated) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const Result r = run_plait("train --data " + (d / "c.txt") + kTiny + " --log " +
                             (d / "a/b/m.jsonl") + " --trace " + (d / "t/x/trace.json") +
                             " --checkpoint-dir " + (d / "c/d/run"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_GT(fs::file_size(d.path / "a/b/m.jsonl"), 0u);
  EXPECT_GT(fs::file_size(d.path / "t/x/trace.json"), 0u);
  EXPECT_TRUE(fs::exists(d.path / "c/d/run/step-00000003/model.safetensors"));
}

// A parent that is a file cannot become a directory: exit 2, one line naming the
// flag, and no training at all (a run of a million steps would not end otherwise;
// the checkpoint directory given beside it is never made).
TEST(OutputPaths, UnwritablePathIsRefusedBeforeTraining) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  write_file(d / "file", "x");
  const std::string big = " --layers 1 --dim 16 --heads 2 --ctx 8 --batch 2 --steps 1000000 "
                          "--no-progress --data " + (d / "c.txt");
  for (const char* flag : {"--log", "--trace", "--checkpoint-dir"}) {
    const Result r = run_plait("train" + big + " " + flag + " " + (d / "file/sub/out"));
    EXPECT_EQ(r.code, 2) << flag << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(flag), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("file/sub"), std::string::npos) << r.err;
  }
  const Result r = run_plait("train" + big + " --checkpoint-dir " + (d / "run") + " --trace " +
                             (d / "file/t.json"));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_FALSE(fs::exists(d.path / "run/step-00000001")) << "trained before refusing --trace";
}

TEST(OutputPaths, AnOutputFileThatIsADirectoryIsRefused) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  fs::create_directory(d.path / "dir");
  const Result r = run_plait("train --data " + (d / "c.txt") + kTiny + " --log " + (d / "dir"));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--log"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r.err;
}

// Without --checkpoint-dir the run says, once, that the model will not be kept.
TEST(OutputPaths, TrainingWithoutCheckpointDirSaysSo) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const std::string base = "train --data " + (d / "c.txt") +
                           " --layers 1 --dim 16 --heads 2 --ctx 8 --batch 2 --steps 2";
  Result r = run_plait(base);
  ASSERT_EQ(r.code, 0) << r.err;
  size_t first = r.err.find("will not be kept");
  ASSERT_NE(first, std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("will not be kept", first + 1), std::string::npos) << r.err;
  r = run_plait(base + " --checkpoint-dir " + (d / "run"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("will not be kept"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace plait::test
