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

}  // namespace plait::test
