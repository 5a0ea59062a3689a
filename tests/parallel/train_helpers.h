// Shared by the parallel training tests: a temporary directory, a small fixed corpus,
// one training run read back (losses from the metrics log, the final weights from the
// checkpoint), and the exactness check every layout must pass against one worker.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "parallel/train_state.h"
#include "parallel/trainer.h"

namespace plait::test {

namespace fs = std::filesystem;

// A fresh directory under the system's temp dir, removed with the object.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& prefix = "plait_train") {
    static int counter = 0;
    path = fs::temp_directory_path() /
           (prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// The small run the parallel tests compare layouts on: `workers` workers of `model`
// training 20 steps of batch 12 on <dir>/c.txt, one BLAS thread each, no evaluation
// until the end, no progress line.
inline TrainOptions small_run(const fs::path& dir, int workers,
                              GPTConfig model = GPTConfig{256, 16, 2, 32, 4}) {
  TrainOptions o;
  o.model = model;
  o.data = {(dir / "c.txt").string()};
  o.batch = 12;
  o.steps = 20;
  o.eval_every = 0;
  o.eval_windows = 8;
  o.progress = false;
  o.workers = workers;
  o.blas_threads = 1;
  return o;
}

// A few KB of word-like text, fixed by its seed.
inline std::string corpus_text() {
  const char* words[] = {"the ", "cat ", "sat ", "on ", "a ", "mat, ", "and ", "dog ",
                         "ran. ", "we ", "see ", "it\n"};
  std::mt19937 rng(7);
  std::string s;
  while (s.size() < 12000) s += words[rng() % 12];
  return s;
}

struct RunResult {
  std::vector<double> losses;          // per step, from the metrics log
  std::vector<nlohmann::json> events;  // log lines with an "event" key
  std::vector<float> weights;          // the final checkpoint's, whole
  double val_loss = 0;
  TrainSummary summary;
};

// Trains with opt's log and checkpoints under dir/name; reads the results back.
inline RunResult run_training(TrainOptions o, const fs::path& dir, const std::string& name) {
  o.log_path = (dir / (name + ".jsonl")).string();
  o.checkpoint_dir = (dir / name).string();
  RunResult r;
  r.summary = train(o);
  r.val_loss = r.summary.last_val_loss;
  std::ifstream in(o.log_path);
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("event")) r.events.push_back(j);
    else if (j.contains("loss")) r.losses.push_back(j["loss"]);
  }
  r.weights = load_model(r.summary.checkpoint).params;
  return r;
}

// A test suite's shared training directory: a TempDir named after Suite::kDir with the
// corpus in c.txt, made before the suite's first test and removed after its last; and,
// when Suite has a public `static TrainOptions baseline_options(const fs::path& dir)`,
// the run its tests compare with, trained once there as "one". Suite is the fixture
// class itself (CRTP), so each suite has statics of its own.
template <class Suite>
class TrainingSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir(Suite::kDir);
    std::ofstream(dir_->path / "c.txt") << corpus_text();
    if constexpr (requires(const fs::path& d) { Suite::baseline_options(d); })
      baseline_ = new RunResult(run(Suite::baseline_options(dir_->path), "one"));
  }
  static void TearDownTestSuite() {
    delete baseline_;
    baseline_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }
  // Trains `o` in the suite's directory as `name` (run_training).
  static RunResult run(const TrainOptions& o, const std::string& name) {
    return run_training(o, dir_->path, name);
  }

  static inline TempDir* dir_ = nullptr;
  static inline RunResult* baseline_ = nullptr;  // with baseline_options only
};

inline double rel(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-30); }

// Losses per step and the validation loss within 1e-5 relative; the weights within
// 1e-5 in relative L2 norm.
inline void expect_close(const RunResult& got, const RunResult& want, const std::string& what) {
  ASSERT_EQ(got.losses.size(), want.losses.size()) << what;
  for (size_t i = 0; i < want.losses.size(); ++i)
    EXPECT_LE(rel(got.losses[i], want.losses[i]), 1e-5) << what << " step " << i + 1;
  EXPECT_LE(rel(got.val_loss, want.val_loss), 1e-5) << what;
  ASSERT_EQ(got.weights.size(), want.weights.size()) << what;
  double diff = 0, norm = 0;
  for (size_t i = 0; i < want.weights.size(); ++i) {
    diff += std::pow(double(got.weights[i]) - want.weights[i], 2);
    norm += std::pow(double(want.weights[i]), 2);
  }
  EXPECT_LE(std::sqrt(diff / norm), 1e-5) << what << ": weights";
}

}  // namespace plait::test
