// Backup workers of allreduce data parallelism (--backup-workers B without --servers,
// parallel/backup_sync.h). With the PLAIT_TEST_SLOW_RANK hook holding rank 2 back, every
// step's update is exactly the mean gradient over ranks 0 and 1's sequences: equal to
// one worker training on those sequences (batch 8: the sampler's sequence j does not
// depend on the batch size), also when the held rank is slowed so much that it skips
// steps to catch up. A rank whose thread fails (PLAIT_TEST_FAIL_AT) leaves and the run
// finishes on the others. Bad combinations are one-line usage errors.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "../common/expect_usage_error.h"
#include "train_helpers.h"

namespace plait {
namespace {

namespace fs = std::filesystem;
using test::RunResult;

// Sets an environment variable for a scope.
struct Env {
  const char* name;
  Env(const char* n, const std::string& v) : name(n) { ::setenv(n, v.c_str(), 1); }
  ~Env() { ::unsetenv(name); }
};

class BackupWorkers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir("plait_backup");
    std::ofstream(dir_->path / "c.txt") << test::corpus_text();
    TrainOptions one = test::small_run(dir_->path, 1);
    one.batch = 8;  // sequences 0..7 of every batch: ranks 0 and 1's shares of 12 over 3
    reference_ = new RunResult(test::run_training(one, dir_->path, "one_batch8"));
  }
  static void TearDownTestSuite() {
    delete reference_;
    delete dir_;
  }
  static TrainOptions three(int backup) {
    TrainOptions o = test::small_run(dir_->path, 3);  // batch 12: shares 4 4 4
    o.backup_workers = backup;
    return o;
  }
  static test::TempDir* dir_;
  static RunResult* reference_;
};
test::TempDir* BackupWorkers::dir_ = nullptr;
RunResult* BackupWorkers::reference_ = nullptr;

int count_events(const RunResult& r, const std::string& name) {
  int n = 0;
  for (const auto& e : r.events) n += e["event"] == name;
  return n;
}

TEST_F(BackupWorkers, HeldRankIsDroppedAndTheUpdateIsTheOthersMean) {
  const Env hold("PLAIT_TEST_SLOW_RANK", "2");
  const RunResult r = test::run_training(three(1), dir_->path, "held");
  for (const auto& e : r.events) {
    if (e["event"] != "backup_step") continue;
    EXPECT_EQ(e["contributed"], nlohmann::json({0, 1})) << e.dump();
    EXPECT_EQ(e["dropped"], nlohmann::json({2})) << e.dump();
    EXPECT_EQ(e["sequences"], 8) << e.dump();
  }
  EXPECT_EQ(count_events(r, "backup_step"), 20);
  test::expect_close(r, *reference_, "3 workers, rank 2 held, vs one worker on batch 8");
}

// Rank 2 computes 6x slower and is held: it falls behind, skips the steps that closed
// without it and applies their results; its replica still ends equal to rank 0's (the
// run checks every rank's parameters' hash at the end).
TEST_F(BackupWorkers, SlowRankCatchesUpBySkippingSteps) {
  const Env hold("PLAIT_TEST_SLOW_RANK", "2");
  TrainOptions o = three(1);
  o.slowdowns = {balance::Slowdown{2, 6.0, 0}};
  const RunResult r = test::run_training(o, dir_->path, "slow");
  test::expect_close(r, *reference_, "rank 2 slowed 6x and held");
}

// Rank 1 fails at step 4 (0-based 3): it leaves, the run goes on with ranks 0 and 2
// (rank 2 then contributes: the hook holds it only while every rank is alive).
TEST_F(BackupWorkers, FailedRankLeavesAndTheRunFinishes) {
  const Env hold("PLAIT_TEST_SLOW_RANK", "2");
  const Env fail("PLAIT_TEST_FAIL_AT", "1:3");
  const RunResult r = test::run_training(three(1), dir_->path, "failed");
  EXPECT_EQ(r.summary.step, 20);
  ASSERT_EQ(r.losses.size(), 20u);
  EXPECT_EQ(count_events(r, "worker_dropped"), 1);
  for (const auto& e : r.events) {
    if (e["event"] == "worker_dropped") {
      EXPECT_EQ(e["rank"], 1);
      EXPECT_EQ(e["alive"], 2);
      EXPECT_NE(e["why"].get<std::string>().find("PLAIT_TEST_FAIL_AT"), std::string::npos);
    }
    if (e["event"] != "backup_step") continue;
    const auto want = e["step"].get<int>() <= 3 ? nlohmann::json({0, 1}) : nlohmann::json({0, 2});
    EXPECT_EQ(e["contributed"], want) << e.dump();
  }
  // the first 3 steps are the reference's (ranks 0 and 1's sequences)
  for (int i = 0; i < 3; ++i) EXPECT_LE(test::rel(r.losses[i], reference_->losses[i]), 1e-5);
  EXPECT_LT(r.losses.back(), r.losses.front());  // and it still learns
}

// A rank that fails at the first step leaves before sending anything: every step takes
// ranks 0 and 1, the reference's sequences.
TEST_F(BackupWorkers, RankDeadFromTheStartIsDropped) {
  const Env fail("PLAIT_TEST_FAIL_AT", "2:0");
  const RunResult r = test::run_training(three(1), dir_->path, "dead");
  EXPECT_EQ(count_events(r, "worker_dropped"), 1);
  test::expect_close(r, *reference_, "rank 2 dead from step 1");
}

// Without backup workers a failed rank still ends the run (the default is unchanged).
TEST_F(BackupWorkers, WithoutBackupsAFailedRankEndsTheRun) {
  const Env fail("PLAIT_TEST_FAIL_AT", "1:2");
  EXPECT_THROW(test::run_training(three(0), dir_->path, "fatal"), RuntimeError);
}

TEST_F(BackupWorkers, BadCombinationsAreUsageErrors) {
  using test::expect_usage_error;
  auto with = [&](auto change) {
    TrainOptions o = three(1);
    change(o);
    return [o] { o.validate(); };
  };
  expect_usage_error(with([](TrainOptions& o) { o.backup_workers = 3; }),
                     {"--backup-workers 3", "--workers 3"});
  expect_usage_error(with([](TrainOptions& o) { o.zero = 1; }), {"--backup-workers", "--zero"});
  expect_usage_error(with([](TrainOptions& o) { o.workers = 4; o.dp = 2; o.tp = 2; }),
                     {"--backup-workers", "--tp/--pp"});
  expect_usage_error(with([](TrainOptions& o) { o.sync = SyncAlgorithm::ring; }),
                     {"--backup-workers", "--sync"});
  expect_usage_error(with([](TrainOptions& o) {
                       o.on_nonfinite = NonFinite::rollback;
                       o.checkpoint_dir = "x";
                     }),
                     {"--backup-workers", "rollback"});
}

}  // namespace
}  // namespace plait
