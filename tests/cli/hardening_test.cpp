// Hardening (docs/SECURITY.md), as a user meets it: files that are not regular files
// (a FIFO, /dev/zero) are refused with one line instead of blocking or filling memory;
// non-finite weights are refused on load, and a non-finite step stops training with
// exit 1 before any checkpoint of it; a symlinked latest.tmp is never written through.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <thread>
#include <cmath>
#include <filesystem>
#include <limits>

#include <nlohmann/json.hpp>

#include "fault/safetensors.h"
#include "run_plait.h"

namespace plait::test {
namespace {

namespace fs = std::filesystem;
const char* kTiny = " --layers 1 --dim 16 --heads 2 --ctx 8 --batch 2 --workers 1 --no-progress";

void expect_one_line(const Result& r, int code, const std::string& needle) {
  EXPECT_EQ(r.code, code) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "'" << needle << "' not in: " << r.err;
}

// Each command that reads a file, given a FIFO or a device: exit 2, one line, at once
// (`timeout 20`: a read that blocks fails the test instead of hanging it).
TEST(Hardening, FifosAndDevicesAreRefusedNotRead) {
  TempDir d;
  const std::string fifo = d / "fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  const std::string t = "timeout 20";
  expect_one_line(run_plait("train --data " + fifo + kTiny + " --steps 1", t), 2, "a FIFO");
  expect_one_line(run_plait("train --data /dev/zero" + std::string(kTiny) + " --steps 1", t), 2,
                  "character device");
  expect_one_line(run_plait("plan --model " + fifo + " --cluster v100 --tokens 1B", t), 2, "a FIFO");
  // a run directory whose manifest.json, or latest, is a FIFO or a device
  write_file(d / "c.txt", small_corpus());
  const std::string run = d / "run";
  ASSERT_EQ(run_plait("train --data " + (d / "c.txt") + kTiny + " --steps 1 --checkpoint-dir " + run).code, 0);
  fs::remove(run + "/latest");
  ASSERT_EQ(mkfifo((run + "/latest").c_str(), 0644), 0);
  const Result latest = run_plait("inspect " + run, t);
  EXPECT_NE(latest.code, 124) << "blocked on the FIFO";
  fs::remove(run + "/latest");
  fs::remove(run + "/step-00000001/manifest.json");
  fs::create_symlink("/dev/zero", run + "/step-00000001/manifest.json");
  expect_one_line(run_plait("inspect " + run + "/step-00000001", t), 2, "symbolic link");
  fs::remove(run + "/step-00000001/manifest.json");
  ASSERT_EQ(mkfifo((run + "/step-00000001/manifest.json").c_str(), 0644), 0);
  expect_one_line(run_plait("eval --checkpoint " + run + "/step-00000001 --data " + (d / "c.txt"), t),
                  2, "a FIFO");
}

// A weights file with one NaN: every command that loads it refuses it (exit 2, naming
// the tensor) unless --allow-nonfinite; training from it then stops at step 1 with
// exit 1, one line naming the step, and writes no checkpoint.
TEST(Hardening, NonFiniteWeightsAreRefusedAndANonFiniteStepStopsTraining) {
  TempDir d;
  safetensors::Reader fix(std::string(PLAIT_SOURCE_DIR) + "/tests/fixtures/gpt_small.safetensors");
  std::vector<std::vector<float>> data;
  std::vector<safetensors::TensorOut> out;
  for (const auto& t : fix.tensors())
    if (t.name.rfind("transformer.", 0) == 0) data.push_back(fix.read_f32(t.name));
  size_t i = 0;
  for (const auto& t : fix.tensors())
    if (t.name.rfind("transformer.", 0) == 0) {
      if (t.name == "transformer.ln_f.bias") data[i][3] = std::numeric_limits<float>::quiet_NaN();
      out.push_back(safetensors::f32_tensor(t.name, t.shape, data[i++]));
    }
  const std::string w = d / "nan.safetensors";
  safetensors::write_file(w, out, {{"format", "pt"}, {"vocab", "256"}, {"ctx", "16"}, {"layers", "2"}, {"dim", "32"}, {"heads", "4"}});
  write_file(d / "c.txt", small_corpus());
  const std::string base = "train --data " + (d / "c.txt") +
                           " --batch 2 --workers 1 --no-progress --steps 2 --init-from " + w +
                           " --checkpoint-dir " + (d / "run");
  expect_one_line(run_plait(base), 2, "transformer.ln_f.bias");
  expect_one_line(run_plait("sample --checkpoint " + w + " --tokens 2"), 2, "nan");
  const Result r = run_plait(base + " --allow-nonfinite");
  expect_one_line(r, 1, "step 1 is not finite");
  EXPECT_FALSE(fs::exists(d / "run/step-00000001"));
  EXPECT_FALSE(fs::exists(d / "run/latest"));
}

// A symbolic link planted as RUN/latest.tmp is replaced, never written through.
TEST(Hardening, SymlinkedLatestTmpIsNotFollowed) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  write_file(d / "victim", "precious\n");
  fs::create_directories(d / "run");
  fs::create_symlink(d / "victim", d / "run/latest.tmp");
  const Result r = run_plait("train --data " + (d / "c.txt") + kTiny + " --steps 1 --checkpoint-dir " +
                             (d / "run"));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(slurp(d / "victim"), "precious\n");
  EXPECT_EQ(slurp(d / "run/latest"), "step-00000001\n");
}

// Pruning renames a checkpoint to a trash name before deleting it, or to the spare's
// name before the next save overwrites it (the first pruned, with no spare yet): killed
// in the middle of that (the test hook deletes one file, then waits for the kill),
// every step directory left is whole, and the next save recycles or removes it.
TEST(Hardening, PruningKilledMidwayLeavesOnlyWholeCheckpoints) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const std::string args = "train --data " + (d / "c.txt") + kTiny +
                           " --steps 4 --checkpoint-every 1 --keep-checkpoints 1 --checkpoint-dir " +
                           (d / "run");
  const std::string cmd = "PLAIT_TEST_PAUSE_IN_PRUNE=1 " + std::string(PLAIT_BINARY) + " " + args +
                          " >/dev/null 2>&1 & echo $! >" + (d / "pid");
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  for (int i = 0; i < 1200 && !fs::exists(d / "run/paused"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(fs::exists(d / "run/paused")) << "the run never pruned";
  const pid_t pid = std::stoi(slurp(d / "pid"));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  for (int i = 0; i < 100 && kill(pid, 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  int trash = 0, steps = 0;
  for (const auto& e : fs::directory_iterator(d / "run")) {
    const std::string n = e.path().filename().string();
    trash += n.rfind(".trash-", 0) == 0 || n.rfind(".spare-", 0) == 0;
    if (n.rfind("step-", 0) == 0) {
      ++steps;
      const Result r = run_plait("inspect " + e.path().string());
      EXPECT_EQ(r.code, 0) << n << ": " << r.err;
    }
  }
  EXPECT_EQ(trash, 1);
  EXPECT_GE(steps, 1);
  fs::remove(d / "run/paused");
  const Result r = run_plait(args + " --resume");
  EXPECT_EQ(r.code, 0) << r.err;
  int spares = 0;
  for (const auto& e : fs::directory_iterator(d / "run")) {
    const std::string n = e.path().filename().string();
    EXPECT_NE(n.rfind(".trash-", 0), 0u) << e.path();
    if (n.rfind(".spare-", 0) == 0) {  // at most one, never with a manifest
      ++spares;
      EXPECT_FALSE(fs::exists(e.path() / "manifest.json")) << e.path();
    }
  }
  EXPECT_LE(spares, 1);
}

// A fresh run into a directory holding another run's checkpoints is refused unless
// --overwrite; every manifest names its run, and a resumed run keeps the id.
TEST(Hardening, FreshRunIntoAnotherRunsDirectoryNeedsOverwrite) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const std::string args = "train --data " + (d / "c.txt") + kTiny + " --steps 2 --checkpoint-dir " +
                           (d / "run");
  ASSERT_EQ(run_plait(args + " --stop-after 1").code, 0);
  const auto run_of = [&](const std::string& step) {
    return nlohmann::json::parse(slurp(d / ("run/" + step + "/manifest.json"))).value("run", "");
  };
  const std::string first = run_of("step-00000001");
  EXPECT_EQ(first.size(), 16u);
  expect_one_line(run_plait(args), 2, "holds the checkpoints of another run");
  ASSERT_EQ(run_plait(args + " --resume").code, 0);
  EXPECT_EQ(run_of("step-00000002"), first);
  const Result r = run_plait(args + " --overwrite");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(run_of("step-00000002"), first);
  EXPECT_FALSE(fs::exists(d / "run/step-00000001"));
}

// Two trainings on one directory: the second is refused while the first lives (the
// message names its pid and host); once it is killed, its lock is free again.
TEST(Hardening, ALiveRunLocksItsDirectoryAndADeadOneDoesNot) {
  TempDir d;
  write_file(d / "c.txt", small_corpus());
  const std::string args = "train --data " + (d / "c.txt") + kTiny + " --steps 3 --checkpoint-dir " +
                           (d / "run");
  const std::string cmd = "PLAIT_TEST_PAUSE_AFTER_CHECKPOINT=1 " + std::string(PLAIT_BINARY) + " " +
                          args + " --checkpoint-every 1 >/dev/null 2>&1 & echo $! >" + (d / "pid");
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  for (int i = 0; i < 1200 && !fs::exists(d / "run/paused"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(fs::exists(d / "run/paused"));
  const pid_t pid = std::stoi(slurp(d / "pid"));
  expect_one_line(run_plait(args + " --resume"), 2, "in use by another run (pid host: " + std::to_string(pid));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  for (int i = 0; i < 100 && kill(pid, 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const Result r = run_plait(args + " --resume");
  EXPECT_EQ(r.code, 0) << r.err;
}

}  // namespace
}  // namespace plait::test
