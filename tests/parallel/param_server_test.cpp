// Parameter-server training (param_server.h): synchronous mode equals one worker
// (losses and final weights within 1e-5 relative) for N in {2,3,4} workers and K in
// {1,2} servers, and its checkpoints resume across layouts; async and stale end
// within 5% of the synchronous run's validation loss; backup workers drop a slow
// rank and the steps complete; bad flags are one-line usage errors. Balancing
// (--balance auto): a split that changes nearly every step still equals one worker
// in sync mode; a slowed worker in stale mode gets a smaller share and every step
// logs each worker's staleness.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "../common/expect_usage_error.h"
#include "parallel/train_state.h"
#include "parallel/trainer.h"
#include "train_helpers.h"
#include "util/error.h"

namespace plait {
namespace {

namespace fs = std::filesystem;
using Result = test::RunResult;
using test::expect_close;

TrainOptions tiny(const fs::path& dir, int workers, int servers) {
  TrainOptions o = test::small_run(dir, workers, GPTConfig{256, 32, 2, 32, 2});
  o.servers = servers;
  return o;
}

class ParamServer : public test::TrainingSuite<ParamServer> {
 public:
  static constexpr const char* kDir = "plait_ps";
  static TrainOptions baseline_options(const fs::path& dir) { return tiny(dir, 1, 0); }
};

TEST_F(ParamServer, SyncMatchesOneWorker) {
  ASSERT_EQ(baseline_->losses.size(), 20u);
  EXPECT_LT(baseline_->losses.back(), baseline_->losses.front());  // it learns
  for (int k : {1, 2})
    for (int n : {2, 3, 4}) {
      const std::string name = "sync_n" + std::to_string(n) + "_k" + std::to_string(k);
      expect_close(run(tiny(dir_->path, n, k), name), *baseline_, name);
    }
}

// The checkpoint holds the servers' parameters and moments: a run stopped in the
// middle resumes under another layout (and without servers) to the same result.
TEST_F(ParamServer, CheckpointsResumeAcrossLayouts) {
  TrainOptions a = tiny(dir_->path, 2, 1);
  a.checkpoint_dir = (dir_->path / "resumed").string();
  a.log_path = (dir_->path / "resumed.jsonl").string();
  a.stop_after = 10;
  train(a);
  TrainOptions b = tiny(dir_->path, 3, 2);
  b.resume = true;
  b.stop_after = 5;
  b.checkpoint_dir = a.checkpoint_dir;
  b.log_path = a.log_path;
  train(b);
  TrainOptions c = tiny(dir_->path, 1, 0);  // and back to one worker, no servers
  c.resume = true;
  const Result r = run(c, "resumed");
  EXPECT_EQ(r.losses.size(), 20u);
  expect_close(r, *baseline_, "ps 2x1, then 3x2, then one worker");
}

// Asynchronous and bounded-staleness updates are not exact, but they train the model
// about as well as synchronous steps (same data, same schedule).
TEST_F(ParamServer, AsyncAndStaleEndNearSync) {
  auto longer = [&](const std::string& mode, int staleness) {
    TrainOptions o = tiny(dir_->path, 3, 2);
    o.steps = 80;
    o.ps_mode = parse_ps_mode(mode);
    o.staleness = staleness;
    return o;
  };
  const Result sync = run(longer("sync", 0), "long_sync");
  ASSERT_EQ(sync.losses.size(), 80u);
  EXPECT_LT(sync.val_loss, baseline_->val_loss);  // 80 steps learn more than 20
  for (const auto& [mode, s] : {std::pair{"async", 0}, std::pair{"stale", 2}, std::pair{"stale", 0}}) {
    const std::string name = std::string("long_") + mode + std::to_string(s);
    const Result r = run(longer(mode, s), name);
    EXPECT_EQ(r.losses.size(), 80u) << name;
    EXPECT_EQ(r.summary.step, 80) << name;
    EXPECT_LE(test::rel(r.val_loss, sync.val_loss), 0.05)
        << name << ": val loss " << r.val_loss << " vs sync " << sync.val_loss;
  }
}

// PLAIT_TEST_SLOW_RANK holds rank 2's pushes until their step has closed, so with one
// backup worker every step takes ranks 0 and 1 and reports rank 2 dropped.
TEST_F(ParamServer, BackupWorkersDropTheSlowRank) {
  for (int k : {1, 2}) {
    TrainOptions o = tiny(dir_->path, 3, k);
    o.steps = 8;
    o.backup_workers = 1;
    ::setenv("PLAIT_TEST_SLOW_RANK", "2", 1);
    const Result r = run(o, "backup" + std::to_string(k));
    ::unsetenv("PLAIT_TEST_SLOW_RANK");
    EXPECT_EQ(r.summary.step, 8);
    EXPECT_EQ(r.losses.size(), 8u);
    int dropped = 0, steps = 0;
    for (const auto& e : r.events) {
      if (e["event"] != "ps_step") continue;
      ++steps;
      EXPECT_EQ(e["contributed"], nlohmann::json({0, 1})) << e.dump();
      if (e["dropped"] == nlohmann::json({2})) ++dropped;
      EXPECT_EQ(e["sequences"], 8) << e.dump();  // 4 + 4 of 12
    }
    EXPECT_EQ(steps, 8);
    EXPECT_GE(dropped, 1);
  }
}

TEST_F(ParamServer, BadFlagsAreUsageErrors) {
  using test::expect_usage_error;
  const fs::path& d = dir_->path;
  auto with = [&](auto change) {
    TrainOptions o = tiny(d, 3, 1);
    change(o);
    return [o] { o.validate(); };
  };
  expect_usage_error(with([](TrainOptions& o) { o.backup_workers = 3; }),
                     {"--backup-workers 3", "--workers 3"});
  expect_usage_error(with([](TrainOptions& o) { o.staleness = 2; }),
                     {"--staleness", "--ps-mode stale"});
  expect_usage_error([] { parse_ps_mode("eventual"); }, {"--ps-mode", "eventual"});
  expect_usage_error(with([](TrainOptions& o) { o.servers = -1; }), {"--servers", "negative"});
  expect_usage_error(with([](TrainOptions& o) { o.ps_mode = PsMode::stale; o.staleness = -1; }),
                     {"--staleness", "negative"});
  expect_usage_error(with([](TrainOptions& o) { o.backup_workers = -2; }),
                     {"--backup-workers", "negative"});
  expect_usage_error(with([](TrainOptions& o) { o.ps_mode = PsMode::async; o.backup_workers = 1; }),
                     {"--backup-workers", "--ps-mode sync"});
  expect_usage_error(with([](TrainOptions& o) { o.servers = 0; o.ps_mode = PsMode::async; }),
                     {"--ps-mode", "--servers"});
  expect_usage_error(with([](TrainOptions& o) { o.workers = 4; o.tp = 2; }),
                     {"--servers", "--tp/--pp"});
  expect_usage_error(with([](TrainOptions& o) { o.sync = SyncAlgorithm::ring; }), {"--sync", "--servers"});
  EXPECT_NO_THROW(with([](TrainOptions& o) { o.ps_mode = PsMode::stale; o.staleness = 3; })());
  expect_usage_error(with([](TrainOptions& o) {
                       o.balance = BalanceMode::automatic;
                       o.backup_workers = 1;
                     }),
                     {"--balance auto", "--backup-workers"});
  EXPECT_NO_THROW(with([](TrainOptions& o) { o.balance = BalanceMode::automatic; })());
}

// PLAIT_TEST_BALANCE_COSTS=1 while alive: deterministic per-sequence costs that change
// with step and rank (parallel/dp_balance.h), so the split changes nearly every step.
struct FakeCosts {
  FakeCosts() { ::setenv("PLAIT_TEST_BALANCE_COSTS", "1", 1); }
  ~FakeCosts() { ::unsetenv("PLAIT_TEST_BALANCE_COSTS"); }
};

// Rank 0's metrics lines (those with a loss), in order.
std::vector<nlohmann::json> step_lines(const fs::path& log) {
  std::vector<nlohmann::json> out;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("loss") && !j.contains("event")) out.push_back(std::move(j));
  }
  return out;
}

TEST_F(ParamServer, SyncSplitChangingEveryStepMatchesOneWorker) {
  const FakeCosts fake;
  for (int k : {1, 2}) {
    TrainOptions o = tiny(dir_->path, 3, k);
    o.balance = BalanceMode::automatic;
    o.balance_every = 1;
    o.balance_threshold = 0;
    const std::string name = "balanced_k" + std::to_string(k);
    const Result r = run(o, name);
    expect_close(r, *baseline_, name);
    const auto lines = step_lines(dir_->path / (name + ".jsonl"));
    ASSERT_EQ(lines.size(), 20u);
    int changes = 0;
    for (size_t i = 1; i < lines.size(); ++i) {
      const auto s = lines[i]["rank_share"].get<std::vector<int64_t>>();
      EXPECT_EQ(s[0] + s[1] + s[2], 12) << lines[i].dump();
      changes += lines[i]["rank_share"] != lines[i - 1]["rank_share"];
    }
    EXPECT_GE(changes, 10) << name << ": the split should change on most steps";
  }
}

// --speeds with parameter servers: the workers start from shares proportional to
// their speeds (1, 2, 3: 2/4/6 of 12), fixed under --balance static, and the servers
// still train one worker's model (they divide the pushed sums by the global batch).
TEST_F(ParamServer, SpeedsSplitTheWorkersAndMatchOneWorker) {
  for (int k : {1, 2}) {
    TrainOptions o = tiny(dir_->path, 3, k);
    o.speeds = {1, 2, 3};
    const std::string name = "speeds_k" + std::to_string(k);
    const Result r = run(o, name);
    expect_close(r, *baseline_, name);
    const auto lines = step_lines(dir_->path / (name + ".jsonl"));
    ASSERT_EQ(lines.size(), 20u);
    for (const auto& l : lines)
      EXPECT_EQ(l["rank_share"].get<std::vector<int64_t>>(), (std::vector<int64_t>{2, 4, 6}));
  }
}

// Stale mode: timings are exchanged once per --balance-every window (rank 0 logs the
// shares then); the fake costs differ by rank over the first window, so the split
// moves. Every step logs the servers' staleness of each worker.
TEST_F(ParamServer, StaleModeRebalancesAndLogsStaleness) {
  const FakeCosts fake;
  TrainOptions o = tiny(dir_->path, 3, 1);
  o.steps = 12;
  o.ps_mode = PsMode::stale;
  o.staleness = 2;
  o.balance = BalanceMode::automatic;
  o.balance_every = 4;
  o.balance_threshold = 0;
  const Result r = run(o, "stale_balanced");
  EXPECT_EQ(r.summary.step, 12);
  const auto lines = step_lines(dir_->path / "stale_balanced.jsonl");
  ASSERT_EQ(lines.size(), 12u);
  int windows = 0;
  for (const auto& j : lines) {
    ASSERT_TRUE(j.contains("rank_staleness")) << j.dump();
    ASSERT_EQ(j["rank_staleness"].size(), 3u) << j.dump();
    for (const auto& x : j["rank_staleness"]) EXPECT_GE(x.get<int>(), 0) << j.dump();
    if (j.contains("rank_share")) ++windows;
  }
  EXPECT_EQ(windows, 3);  // after steps 4, 8 and 12
  int rebalances = 0;
  for (const auto& e : r.events) rebalances += e["event"] == "rebalance";
  EXPECT_GE(rebalances, 1);
}

}  // namespace
}  // namespace plait
