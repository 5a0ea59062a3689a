// Runs the built `plait` binary (PLAIT_BINARY) in a shell and captures its exit code,
// stdout and stderr, for tests of the command line as a user sees it.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace plait::test {

struct Result {
  int code = -1;
  std::string out, err;
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A fresh temporary directory, removed when the object goes away.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/plait-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// `args` is appended to the binary's path as is (shell syntax).
inline Result run_plait(const std::string& args, const std::string& env = "") {
  TempDir io;
  const std::string cmd = env + " " + PLAIT_BINARY + std::string(" ") + args + " >" +
                          (io / "out") + " 2>" + (io / "err") + " </dev/null";
  const int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(io / "out");
  r.err = slurp(io / "err");
  return r;
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// A few KB of English-like text, enough for tiny models.
inline std::string small_corpus() {
  std::string s;
  for (int i = 0; i < 200; ++i)
    s += "The quick brown fox jumps over the lazy dog number " + std::to_string(i) + ".\n";
  return s;
}

// A test with a fresh TempDir `d` whose c.txt holds small_corpus().
class CorpusTest : public ::testing::Test {
 protected:
  void SetUp() override { write_file(d / "c.txt", small_corpus()); }
  TempDir d;
};

// `plait train` of a 1-block model (dim 32, 4 heads, context 16) on d/c.txt, with no
// evaluation and no progress line, checkpoints in d/<run>; `flags` says the rest
// (batch, steps, workers, checkpoint period, ...).
inline std::string tiny_train_args(const TempDir& d, const std::string& run,
                                   const std::string& flags) {
  return "train --data " + (d / "c.txt") +
         " --layers 1 --dim 32 --heads 4 --ctx 16 --eval-every 0 --no-progress " + flags +
         " --checkpoint-dir " + (d / run);
}

// Every step-* directory of `run` holds a manifest (no half-committed checkpoint).
inline void expect_only_committed(const std::filesystem::path& run) {
  for (const auto& e : std::filesystem::directory_iterator(run)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("step-", 0) == 0) {
      EXPECT_TRUE(std::filesystem::exists(e.path() / "manifest.json")) << n;
    }
  }
}

// Runs `plait <train_args>` (checkpoints every 2 steps into `run`) with a crash in phase
// `phase` of its step-4 write (PLAIT_TEST_CRASH_AT, fault/crash_hook.h) and checks the
// aftermath: the run died by SIGKILL there, nothing of step 6 exists, every step-*
// directory is committed, and `plait inspect` picks step 2. (Fatal failures return
// from here only: call it under ASSERT_NO_FATAL_FAILURE.)
inline void expect_crash_in_step4_write(const std::string& train_args,
                                        const std::filesystem::path& run,
                                        const std::string& phase) {
  Result r = run_plait(train_args, "PLAIT_TEST_CRASH_AT=" + phase + ":4");
  ASSERT_EQ(r.code, 128 + 9) << "expected SIGKILL during the step-4 write\n" << r.err;
  ASSERT_TRUE(std::filesystem::exists(run / ("test-crash-" + phase + "-4")));
  EXPECT_FALSE(std::filesystem::exists(run / "step-00000006"));  // it died in the step-4 write
  expect_only_committed(run);
  r = run_plait("inspect --json " + run.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).at("step"), 2) << r.out;
}

}  // namespace plait::test
