// Data parallelism is exact: N workers train the same model as one worker on the same
// global batches (losses and final weights within 1e-5 relative), for every
// synchronous method and N in {2, 3, 4}; buckets are cut from the end of the arena.
#include <gtest/gtest.h>

#include <numeric>
#include <set>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "parallel/bench.h"
#include "parallel/data_parallel.h"
#include "parallel/grad_buckets.h"
#include "parallel/train_state.h"
#include "parallel/trainer.h"
#include "train_helpers.h"
#include "util/error.h"

namespace plait {
namespace {

namespace fs = std::filesystem;
using Result = test::RunResult;
using test::expect_close;

TrainOptions tiny(const fs::path& dir, int workers, const std::string& sync) {
  TrainOptions o = test::small_run(dir, workers);
  o.sync = parse_sync_flag(sync);
  o.bucket_mb = 0.01;  // ~2600 floats: many buckets, reduced during the backward pass
  return o;
}

class DataParallel : public test::TrainingSuite<DataParallel> {
 public:
  static constexpr const char* kDir = "plait_dp";
  static TrainOptions baseline_options(const fs::path& dir) { return tiny(dir, 1, ""); }
};

TEST_F(DataParallel, EverySyncMethodMatchesOneWorker) {
  ASSERT_EQ(baseline_->losses.size(), 20u);
  EXPECT_LT(baseline_->losses.back(), baseline_->losses.front());  // it learns
  for (const char* sync : {"ps", "direct", "ring", "hierarchical", "halving-doubling"}) {
    for (int n : {2, 3, 4}) {
      TrainOptions o = tiny(dir_->path, n, sync);
      // hierarchical: nodes of 2 where N is even, of 1 otherwise
      if (std::string(sync) == "hierarchical") o.ranks_per_node = n % 2 == 0 ? 2 : 1;
      const std::string name = std::string(sync) + std::to_string(n);
      expect_close(run(o, name), *baseline_, name);
    }
  }
}

TEST_F(DataParallel, ChosenSyncWithoutOverlapAndEmptySharesMatch) {
  TrainOptions o = tiny(dir_->path, 3, "");
  o.overlap = false;
  expect_close(run(o, "auto3"), *baseline_, "auto, no overlap");
  // batch 3 over 4 workers: one worker has no sequence and still takes part
  TrainOptions small1 = tiny(dir_->path, 1, ""), small4 = tiny(dir_->path, 4, "ring");
  small1.batch = small4.batch = 3;
  expect_close(run(small4, "b3w4"), run(small1, "b3w1"),
               "batch 3 on 4 workers");
}

TEST_F(DataParallel, EmulatedSlowLinksChangeTimingNotResults) {
  TrainOptions o = tiny(dir_->path, 4, "");  // 2 nodes of 2: hierarchical chosen
  o.ranks_per_node = 2;
  o.inter_link = "10us:2GB/s";
  o.intra_link = "1us:20GB/s";
  expect_close(run(o, "emulated"), *baseline_, "emulated links");
  o.inter_link = "fast";
  EXPECT_THROW(o.validate(), UsageError);
}

TEST_F(DataParallel, ProportionalSharesMatchOneWorker) {
  TrainOptions o = tiny(dir_->path, 3, "ring");
  o.speeds = {1, 2, 3};  // 2, 4 and 6 of the 12 sequences
  expect_close(run(o, "speeds"), *baseline_, "proportional shares");
  o.speeds = {1, 2};
  EXPECT_THROW(o.validate(), UsageError);
  o.speeds = {1, -1, 2};
  EXPECT_THROW(o.validate(), UsageError);
}

TEST_F(DataParallel, ResumeIntoAnotherWorkerCount) {
  TrainOptions a = tiny(dir_->path, 2, "ring");
  a.checkpoint_dir = (dir_->path / "resumed").string();
  a.log_path = (dir_->path / "resumed.jsonl").string();
  a.stop_after = 10;
  train(a);
  TrainOptions b = tiny(dir_->path, 3, "ring");
  b.resume = true;
  const Result r = run(b, "resumed");
  EXPECT_EQ(r.losses.size(), 20u);  // the metrics log is appended to on resume
  expect_close(r, *baseline_, "2 workers then 3");
}

// A fixed split (--balance static, the default): under auto, measured timings would
// re-split the batch differently in each run (see RebalancedRunResumesBitIdentical).
TEST_F(DataParallel, ResumedRunIsBitIdenticalToUninterrupted) {
  TrainOptions whole_opt = tiny(dir_->path, 3, "ring");
  whole_opt.balance = BalanceMode::fixed;
  const Result whole = run(whole_opt, "whole3");
  TrainOptions a = whole_opt;
  a.checkpoint_dir = (dir_->path / "split3").string();
  a.log_path = (dir_->path / "split3.jsonl").string();
  a.stop_after = 7;
  train(a);
  TrainOptions b = whole_opt;
  b.resume = true;
  const Result split = run(b, "split3");
  EXPECT_EQ(split.losses, whole.losses);
  EXPECT_TRUE(split.weights == whole.weights);
}

// PLAIT_TEST_BALANCE_COSTS=1 while alive: deterministic costs that change with step
// and rank (parallel/dp_balance.h), so the split changes nearly every step.
struct FakeCosts {
  FakeCosts() { ::setenv("PLAIT_TEST_BALANCE_COSTS", "1", 1); }
  ~FakeCosts() { ::unsetenv("PLAIT_TEST_BALANCE_COSTS"); }
};

// PLAIT_TEST_STEAL_ORDER=1 while alive: work stealing's pool chunks go to ranks by a
// fixed rule of (step, chunk) instead of a race for the counter (parallel/dp_steal.h).
struct FixedClaims {
  FixedClaims() { ::setenv("PLAIT_TEST_STEAL_ORDER", "1", 1); }
  ~FixedClaims() { ::unsetenv("PLAIT_TEST_STEAL_ORDER"); }
};

// The per-step shares rank 0 logged (metrics "rank_share"; "rank_run": the sequences
// each rank ran under work stealing).
std::vector<std::vector<int64_t>> logged_shares(const TrainOptions& o,
                                                const char* key = "rank_share") {
  std::vector<std::vector<int64_t>> out;
  std::ifstream in(o.log_path);
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains(key)) out.push_back(j[key].get<std::vector<int64_t>>());
  }
  return out;
}

// Steps whose sequences were run in other amounts than the split gave (stolen); every
// logged step ran the whole batch. (The first step of a run is no sample: no rank_run.)
int stolen_steps(const TrainOptions& o) {
  std::ifstream in(o.log_path);
  int n = 0, logged = 0;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (!j.contains("rank_run")) continue;
    const auto ran = j["rank_run"].get<std::vector<int64_t>>();
    EXPECT_EQ(std::accumulate(ran.begin(), ran.end(), int64_t{0}), o.batch) << line;
    n += ran != j["rank_share"].get<std::vector<int64_t>>();
    ++logged;
  }
  EXPECT_GE(logged, o.steps - 1);
  return n;
}

TrainOptions rebalancing(const fs::path& dir, int workers) {
  TrainOptions o = tiny(dir, workers, "ring");
  o.balance = BalanceMode::automatic;
  o.balance_every = 1;
  o.balance_threshold = 0;
  return o;
}

TEST_F(DataParallel, SplitChangingEveryStepMatchesOneWorker) {
  const FakeCosts fake;
  TrainOptions o = rebalancing(dir_->path, 3);
  const Result r = run(o, "rebalanced");
  expect_close(r, *baseline_, "split changing every step");
  o.log_path = (dir_->path / "rebalanced.jsonl").string();
  const auto shares = logged_shares(o);
  ASSERT_EQ(shares.size(), 20u);
  int changes = 0;
  for (size_t i = 1; i < shares.size(); ++i) changes += shares[i] != shares[i - 1];
  EXPECT_GE(changes, 10) << "the split should change on most steps";
  for (const auto& s : shares) EXPECT_EQ(s[0] + s[1] + s[2], 12);
  int rebalances = 0;  // each before a step of the run changes the next step's split
  for (const auto& e : r.events) rebalances += e["event"] == "rebalance" && e["step"] < 20;
  EXPECT_EQ(rebalances, changes);
}

TEST_F(DataParallel, RebalancedRunResumesBitIdentical) {
  const FakeCosts fake;
  const FixedClaims fixed;  // stealing within steps too, in a repeatable order
  const Result whole = run(rebalancing(dir_->path, 3), "rb_whole");
  TrainOptions a = rebalancing(dir_->path, 3);
  a.checkpoint_dir = (dir_->path / "rb_split").string();
  a.log_path = (dir_->path / "rb_split.jsonl").string();
  a.stop_after = 7;
  train(a);
  TrainOptions b = rebalancing(dir_->path, 3);
  b.resume = true;
  const Result split = run(b, "rb_split");
  TrainOptions w = rebalancing(dir_->path, 3);
  w.log_path = (dir_->path / "rb_whole.jsonl").string();
  const auto shares = logged_shares(a);  // the log a started, b appended to
  EXPECT_EQ(shares.size(), 20u);
  EXPECT_EQ(shares, logged_shares(w));  // the same split sequence
  EXPECT_NE(shares[7], shares[6]);      // step 8 (after the checkpoint) re-split
  EXPECT_EQ(logged_shares(a, "rank_run"), logged_shares(w, "rank_run"));
  EXPECT_GE(stolen_steps(w), 10);  // the hook's claims differ from the split on most steps
  EXPECT_EQ(split.losses, whole.losses);
  EXPECT_TRUE(split.weights == whole.weights);
}

// Work stealing (--balance auto): whichever rank runs a pool chunk, the model is one
// worker's within 1e-5. Fixed claims that change every step (some steps one rank takes
// the whole pool), in pieces of --micro-batch 2, on a split that changes every step.
TEST_F(DataParallel, StolenChunksInAnyAssignmentMatchOneWorker) {
  const FakeCosts fake;
  const FixedClaims fixed;
  TrainOptions o = rebalancing(dir_->path, 3);
  o.micro_batch = 2;
  o.steal = 1;
  const Result r = run(o, "stolen");
  expect_close(r, *baseline_, "fixed claims of the pool");
  o.log_path = (dir_->path / "stolen.jsonl").string();
  EXPECT_GE(stolen_steps(o), 10);
  std::set<std::vector<int64_t>> patterns;
  for (const auto& ran : logged_shares(o, "rank_run")) patterns.insert(ran);
  EXPECT_GE(patterns.size(), 5u);
}

// The same through the real shared counter: a rank slowed 4x leaves pool chunks to the
// others (which ones is a race; any is exact).
TEST_F(DataParallel, StealingWithASlowRankMatchesOneWorker) {
  TrainOptions o = tiny(dir_->path, 3, "ring");
  o.balance = BalanceMode::automatic;
  o.slowdowns = {balance::parse_slowdown("2:4")};
  const Result r = run(o, "stealing");
  expect_close(r, *baseline_, "work stealing, rank 2 slowed 4x");
  o.log_path = (dir_->path / "stealing.jsonl").string();
  (void)stolen_steps(o);  // every step ran the whole batch (the sums are checked inside)
}

TEST_F(DataParallel, SlowedRankRebalancedStillMatchesOneWorker) {
  TrainOptions o = tiny(dir_->path, 2, "direct");
  o.slowdowns = {balance::parse_slowdown("1:3@4")};
  o.balance = BalanceMode::automatic;
  o.balance_every = 2;
  expect_close(run(o, "slowed"), *baseline_, "rank 1 slowed 3x from step 4");
  o.slowdowns = {balance::parse_slowdown("2:3")};  // no rank 2 among 2 workers
  EXPECT_THROW(o.validate(), UsageError);
  o.slowdowns.clear();
  o.balance = BalanceMode::off;
  o.speeds = {1, 2};
  EXPECT_THROW(o.validate(), UsageError);  // off is the equal split
}

TEST_F(DataParallel, TraceHasComputeAndCommLanesPerRank) {
  TrainOptions o = tiny(dir_->path, 2, "ring");
  o.steps = 3;
  o.trace_path = (dir_->path / "trace.json").string();
  train(o);
  std::ifstream in(o.trace_path);
  const auto j = nlohmann::json::parse(in);
  int fb[2] = {0, 0}, buckets[2] = {0, 0};
  for (const auto& e : j["traceEvents"]) {
    if (e["ph"] != "X") continue;
    const int pid = e["pid"], tid = e["tid"];
    ASSERT_TRUE(pid == 0 || pid == 1) << e.dump();
    const std::string name = e["name"];
    if (name == "forward+backward" && tid == obs::kLaneCompute) ++fb[pid];
    if (name.rfind("allreduce bucket", 0) == 0 && tid == obs::kLaneComm) ++buckets[pid];
  }
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(fb[r], 3) << "rank " << r;
    EXPECT_GT(buckets[r], 3) << "rank " << r;  // several buckets per step
  }
}

TEST_F(DataParallel, ResumeWithoutCheckpointIsUsageError) {
  TrainOptions o = tiny(dir_->path, 3, "ring");
  o.checkpoint_dir = (dir_->path / "nothing-here").string();
  o.resume = true;
  EXPECT_THROW(train(o), UsageError);
}

TEST_F(DataParallel, BenchReportsSpeedAndWaitShare) {
  TrainOptions o = tiny(dir_->path, 2, "");
  const DataParallelBench b = bench_data_parallel(o, 1, 2);
  EXPECT_EQ(b.sync, "direct");
  EXPECT_GT(b.buckets, 1u);
  EXPECT_GT(b.tokens_per_s, 0);
  EXPECT_GE(b.comm_wait_share, 0);
  EXPECT_LE(b.comm_wait_share, 1);
  o.workers = 1;
  EXPECT_GT(bench_data_parallel(o, 0, 1).tokens_per_s, 0);
}

TEST(GradBuckets, CutFromTheEnd) {
  const auto b = make_buckets(10, 4);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].begin, 6u);
  EXPECT_EQ(b[0].end, 10u);
  EXPECT_EQ(b[1].begin, 2u);
  EXPECT_EQ(b[2].begin, 0u);
  EXPECT_EQ(b[2].end, 2u);
  EXPECT_TRUE(make_buckets(0, 4).empty());
  EXPECT_EQ(make_buckets(5, 0).size(), 5u);  // at least one float per bucket
}

TEST(ChooseSync, ByWorldSizeAndNodes) {
  TrainOptions o;
  o.workers = 2;
  EXPECT_EQ(choose_sync(o).algorithm, comm::Algorithm::direct);
  o.workers = 5;
  EXPECT_EQ(choose_sync(o).algorithm, comm::Algorithm::ring);
  o.workers = 8;
  o.ranks_per_node = 4;
  EXPECT_EQ(choose_sync(o).algorithm, comm::Algorithm::hierarchical);
  o.sync = SyncAlgorithm::ps;
  EXPECT_EQ(choose_sync(o).algorithm, comm::Algorithm::ps);
  EXPECT_FALSE(choose_sync(o).why.empty());
}

TEST(DataParallelOptions, BadSyncNamesTheFlag) {
  TrainOptions o;
  o.workers = 2;
  try {
    o.sync = parse_sync_flag("carrier-pigeon");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--sync"), std::string::npos) << e.what();
  }
  o.sync = SyncAlgorithm::mpi;
  EXPECT_THROW(o.validate(), UsageError);  // needs --backend mpi
  o.backend = comm::Backend::mpi;
  EXPECT_NO_THROW(o.validate());
  EXPECT_THROW(parse_backend_flag("pigeons"), UsageError);
  o.backend = comm::Backend::threads;
  o.sync = SyncAlgorithm::ring;
  o.bucket_mb = 0;
  EXPECT_THROW(o.validate(), UsageError);
}

}  // namespace
}  // namespace plait
