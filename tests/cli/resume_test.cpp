// Exact resume: a run stopped (cleanly, or by SIGKILL) and resumed ends with the
// same bytes, weights and optimizer state, as the same run left uninterrupted.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "run_plait.h"

namespace plait::test {
namespace {

namespace fs = std::filesystem;

std::string train_args(const TempDir& d, const std::string& run) {
  return "train --data " + (d / "c.txt") +
         " --layers 2 --dim 32 --heads 4 --ctx 16 --batch 4 --steps 20 --eval-every 5"
         " --checkpoint-every 10 --no-progress --checkpoint-dir " + (d / run);
}

// The files of the checkpoint at `step` that must match byte for byte.
void expect_same_state(const TempDir& d, const std::string& a, const std::string& b, int step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%08d", step);
  for (const char* file : {"model.safetensors", "optimizer.safetensors"}) {
    const fs::path pa = d.path / a / name / file, pb = d.path / b / name / file;
    ASSERT_TRUE(fs::exists(pa)) << pa;
    ASSERT_TRUE(fs::exists(pb)) << pb;
    const std::string x = slurp(pa), y = slurp(pb);
    EXPECT_GT(x.size(), 1000u);
    EXPECT_TRUE(x == y) << file << " differs between " << a << " and " << b;
  }
}

class Resume : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(d / "c.txt", small_corpus());
    const Result r = run_plait(train_args(d, "full"));
    ASSERT_EQ(r.code, 0) << r.err;
  }
  TempDir d;
};

TEST_F(Resume, StopAfterThenResumeIsBitIdentical) {
  Result r = run_plait(train_args(d, "split") + " --stop-after 10");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(d.path / "split" / "step-00000020"));
  r = run_plait(train_args(d, "split") + " --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_state(d, "full", "split", 20);
}

TEST_F(Resume, KilledAfterCheckpointThenResumeIsBitIdentical) {
  // The test hook makes the run wait after committing its step-10 checkpoint, so the
  // kill lands at a known point without depending on timing.
  const std::string pidfile = d / "pid";
  const std::string cmd = "PLAIT_TEST_PAUSE_AFTER_CHECKPOINT=10 " + std::string(PLAIT_BINARY) +
                          " " + train_args(d, "killed") + " >/dev/null 2>&1 & echo $! >" +
                          pidfile;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const fs::path ckpt = d.path / "killed" / "step-00000010" / "model.safetensors";
  for (int i = 0; i < 1200 && !fs::exists(d.path / "killed" / "paused"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(fs::exists(d.path / "killed" / "paused")) << "the run never reached step 10";
  const pid_t pid = std::stoi(slurp(pidfile));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  for (int i = 0; i < 100 && kill(pid, 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(ckpt));
  const Result r = run_plait(train_args(d, "killed") + " --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_state(d, "full", "killed", 20);
}

TEST_F(Resume, ResumeWithDifferentOptionsIsRejected) {
  Result r = run_plait(train_args(d, "split") + " --stop-after 10");
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_plait(train_args(d, "split") + " --resume --lr 0.5");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("lr"), std::string::npos) << r.err;
}

// --resume with no other flag: the model, batch, steps, lr and corpus come from the
// checkpoint and the run's train.json; the result is bit-identical.
TEST_F(Resume, ResumeWithNoOtherFlagIsBitIdentical) {
  Result r = run_plait(train_args(d, "bare") + " --stop-after 10");
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_plait("train --no-progress --checkpoint-dir " + (d / "bare") + " --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_state(d, "full", "bare", 20);
}

// A flag that disagrees with the checkpoint: exit 2, one line naming both values as
// the user wrote them (not 0.0020000000949949026).
TEST_F(Resume, DisagreeingFlagNamesBothValuesAsWritten) {
  Result r = run_plait(train_args(d, "split") + " --lr 2e-3 --stop-after 10");
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_plait("train --checkpoint-dir " + (d / "split") + " --resume --lr 0.5");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("--lr 0.5"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--lr 2e-3"), std::string::npos) << r.err;
  r = run_plait("train --checkpoint-dir " + (d / "split") + " --resume --steps 30 --dim 32");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--steps 30"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--steps 20"), std::string::npos) << r.err;
  // The same value written another way agrees.
  r = run_plait("train --no-progress --checkpoint-dir " + (d / "split") +
                " --resume --lr 0.002 --steps 20 --layers 2");
  EXPECT_EQ(r.code, 0) << r.err;
}

// --resume auto: a fresh start on an empty (or missing) directory, a resume on a
// non-empty one, nothing to do on a finished run: one job script, requeued, ends
// with the same model as the uninterrupted run.
TEST_F(Resume, AutoStartsFreshThenResumes) {
  Result r = run_plait(train_args(d, "auto") + " --resume auto --stop-after 10");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(d.path / "auto" / "step-00000010"));
  r = run_plait(train_args(d, "auto") + " --resume auto --stop-after 10");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_state(d, "full", "auto", 20);
  r = run_plait(train_args(d, "auto") + " --resume auto");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("complete"), std::string::npos) << r.err;
  fs::create_directories(d.path / "empty");
  r = run_plait(train_args(d, "empty") + " --resume auto");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_state(d, "full", "empty", 20);
  r = run_plait(train_args(d, "none") + " --resume");
  EXPECT_EQ(r.code, 2) << "plain --resume needs a checkpoint: " << r.err;
  r = run_plait(train_args(d, "none") + " --resume sometimes");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("auto"), std::string::npos) << r.err;
}

TEST_F(Resume, EvalSampleAndInspectReadTheCheckpoint) {
  Result r = run_plait("eval --json --checkpoint " + (d / "full") + " --data " + (d / "c.txt"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("\"loss\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"tokens\""), std::string::npos) << r.out;
  r = run_plait("sample --checkpoint " + (d / "full") + " --prompt The --tokens 20");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("The", 0), 0u) << r.out;
  EXPECT_GE(r.out.size(), 23u);
  r = run_plait("inspect " + (d / "full"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("transformer.h.1.mlp.c_proj.weight"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace plait::test
