// ZeRO (--zero 1|2|3, parallel/zero.h): sharded AdamW moments (and, stage 2,
// gradients; stage 3, parameters) train the same model as one worker within 1e-5 (dp 2
// and 3); stage 2 equals stage 1 and stage 3 stage 2 bit for bit; a resumed ZeRO run is bit-identical to the uninterrupted one;
// checkpoints resume across ZeRO stages and plain data parallelism.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <cmath>
#include <vector>

#include "comm/collectives.h"
#include "comm/comm.h"
#include "parallel/grad_buckets.h"
#include "parallel/trainer.h"
#include "parallel/zero.h"
#include "train_helpers.h"
#include "util/error.h"

namespace plait {
namespace {

namespace fs = std::filesystem;
using Result = test::RunResult;
using test::expect_close;

// Buckets of about 2000 floats: the model's ~35k-float arena is cut into many, so
// stage 2's buckets cross shard boundaries.
TrainOptions tiny(const fs::path& dir, int workers, int zero) {
  TrainOptions o = test::small_run(dir, workers);
  o.zero = zero;
  o.bucket_mb = 2000.0 * sizeof(float) / (1024 * 1024);
  return o;
}

class Zero : public test::TrainingSuite<Zero> {
 public:
  static constexpr const char* kDir = "plait_zero";
  static TrainOptions baseline_options(const fs::path& dir) { return tiny(dir, 1, 0); }

 protected:
  // Trains the first 10 steps with `first` into dir/name; resumes them with `second`.
  static Result split(TrainOptions first, TrainOptions second, const std::string& name) {
    first.checkpoint_dir = (dir_->path / name).string();
    first.log_path = (dir_->path / (name + ".jsonl")).string();
    first.stop_after = 10;
    train(first);
    second.resume = true;
    return run(second, name);
  }
};

TEST_F(Zero, ShardedMomentsMatchOneWorker) {
  ASSERT_EQ(baseline_->losses.size(), 20u);
  for (int n : {2, 3}) {
    const std::string name = "zero" + std::to_string(n);
    const Result r = run(tiny(dir_->path, n, 1), name);
    expect_close(r, *baseline_, name);
    // the end event names rank 0's optimizer bytes: its shard's m and v
    const size_t total = baseline_->weights.size();
    ASSERT_FALSE(r.events.empty());
    EXPECT_EQ(r.events.back().value("optimizer_bytes_per_rank", size_t{0}),
              2 * sizeof(float) * comm::shard_of(total, n, 0).count)
        << name;
  }
}

TEST_F(Zero, ShardedGradientsMatchOneWorkerAndStageOneBitForBit) {
  for (int n : {2, 3}) {
    const std::string name = "zero2_" + std::to_string(n);
    const Result r = run(tiny(dir_->path, n, 2), name);
    expect_close(r, *baseline_, name);
    const Result one = run(tiny(dir_->path, n, 1), "zero1_" + std::to_string(n));
    EXPECT_EQ(r.losses, one.losses) << name;
    EXPECT_TRUE(r.weights == one.weights) << name;
    // rank 0 keeps its shard's gradients: resident bytes at most the shard plus one page
    // at each edge of the shard and of the arena (util/pages.h releases whole pages)
    const size_t total = baseline_->weights.size();
    const size_t shard = sizeof(float) * comm::shard_of(total, n, 0).count;
    ASSERT_FALSE(r.events.empty());
    const auto& end = r.events.back();
    EXPECT_LE(end.value("gradient_bytes_per_rank", size_t{0}), shard + 4 * 4096) << name;
    EXPECT_GE(end.value("gradient_bytes_per_rank", size_t{0}), shard) << name;
    // how much more was resident during a step depends on how far the comm thread
    // lagged behind the backward pass
    EXPECT_LE(end.value("gradient_peak_bytes_per_rank", total * sizeof(float) + 1),
              total * sizeof(float)) << name;
    EXPECT_GE(end.value("gradient_peak_bytes_per_rank", size_t{0}), shard) << name;
    // the other ranks' buckets borrowed pooled pages (grad_buckets.h) rather than fresh
    EXPECT_GT(end.value("gradient_pool_bytes_per_rank", size_t{0}), 0u) << name;
  }
}

TEST_F(Zero, ShardedParametersMatchStageTwoBitForBit) {
  for (int n : {2, 3}) {
    const std::string name = "zero3_" + std::to_string(n);
    const Result r = run(tiny(dir_->path, n, 3), name);
    expect_close(r, *baseline_, name);
    const Result two = run(tiny(dir_->path, n, 2), "zero2b_" + std::to_string(n));
    EXPECT_EQ(r.losses, two.losses) << name;
    EXPECT_TRUE(r.weights == two.weights) << name;
    EXPECT_EQ(r.val_loss, two.val_loss) << name;  // every rank evaluates, gathering blocks
    // rank 0 ends holding its shard of the parameters (plus the edge pages)
    const size_t total = baseline_->weights.size();
    const size_t shard = sizeof(float) * comm::shard_of(total, n, 0).count;
    ASSERT_FALSE(r.events.empty());
    const size_t held = r.events.back().value("parameter_bytes_per_rank", size_t{0});
    EXPECT_GE(held, shard) << name;
    EXPECT_LE(held, shard + 4 * 4096) << name;
    // the gathered units lived in pooled pages (zero.h), not in pages faulted per gather
    EXPECT_GT(r.events.back().value("parameter_pool_bytes_per_rank", size_t{0}), 0u) << name;
  }
}

TEST_F(Zero, MicroBatchesAreReducedEachSoOnlyTheShardAccumulates) {
  // batch 12 in micro-batches of 2: 3 per rank on 2 workers, 2 on 3
  const size_t total = baseline_->weights.size();
  for (int n : {2, 3}) {
    TrainOptions o = tiny(dir_->path, n, 2);
    o.micro_batch = 2;
    const std::string name = "zero2mb_" + std::to_string(n);
    const Result r = run(o, name);
    expect_close(r, *baseline_, name);
    // between two micro-batches rank 0 held its shard's gradients only (and edge pages)
    const size_t shard = sizeof(float) * comm::shard_of(total, n, 0).count;
    ASSERT_FALSE(r.events.empty());
    const size_t between =
        r.events.back().value("gradient_between_micro_batches_bytes_per_rank", size_t{0});
    EXPECT_GE(between, shard) << name;
    EXPECT_LE(between, shard + 4 * 4096) << name;
    if (n != 2) continue;
    // stage 3 gathers the same floats: bit-identical with micro-batches too
    o.zero = 3;
    const Result three = run(o, "zero3mb_2");
    EXPECT_EQ(three.losses, r.losses);
    EXPECT_TRUE(three.weights == r.weights);
  }
}

TEST_F(Zero, ResumedRunIsBitIdenticalToUninterrupted) {
  for (int stage : {1, 2, 3}) {
    // Built by appending: GCC 12 misreports -Wrestrict on "literal" + std::string here.
    std::string z("z");
    z.append(std::to_string(stage));
    const Result whole = run(tiny(dir_->path, 3, stage), std::string("whole3").append(z));
    const Result resumed = split(tiny(dir_->path, 3, stage), tiny(dir_->path, 3, stage),
                                 std::string("split3").append(z));
    EXPECT_EQ(resumed.losses, whole.losses) << z;
    EXPECT_TRUE(resumed.weights == whole.weights) << z;
  }
}

TEST_F(Zero, CheckpointsResumeAcrossZeroAndPlain) {
  expect_close(split(tiny(dir_->path, 2, 1), tiny(dir_->path, 3, 0), "z1to0"), *baseline_,
               "--zero 1 on 2 workers, then plain on 3");
  expect_close(split(tiny(dir_->path, 3, 0), tiny(dir_->path, 2, 1), "z0to1"), *baseline_,
               "plain on 3 workers, then --zero 1 on 2");
  expect_close(split(tiny(dir_->path, 3, 1), tiny(dir_->path, 1, 0), "z1to1w"), *baseline_,
               "--zero 1 on 3 workers, then one worker");
  expect_close(split(tiny(dir_->path, 2, 2), tiny(dir_->path, 3, 1), "z2to1"), *baseline_,
               "--zero 2 on 2 workers, then --zero 1 on 3");
  expect_close(split(tiny(dir_->path, 3, 3), tiny(dir_->path, 1, 0), "z3to1w"), *baseline_,
               "--zero 3 on 3 workers, then one worker");
  expect_close(split(tiny(dir_->path, 1, 0), tiny(dir_->path, 2, 3), "z1wto3"), *baseline_,
               "one worker, then --zero 3 on 2");
}

TEST(ZeroOptions, BadCombinationsAreUsageErrors) {
  TrainOptions o;
  o.workers = 2;
  o.zero = 1;
  EXPECT_NO_THROW(o.validate());
  o.zero = 2;
  EXPECT_NO_THROW(o.validate());
  o.zero = 3;
  EXPECT_NO_THROW(o.validate());
  o.balance = BalanceMode::automatic;  // shares (so passes) may differ between ranks
  EXPECT_THROW(o.validate(), UsageError);
  o.balance.reset();
  o.batch = 5, o.micro_batch = 2;  // shares 3 and 2: two micro-batches and one
  EXPECT_THROW(o.validate(), UsageError);
  o.batch = 8;
  EXPECT_NO_THROW(o.validate());
  o.micro_batch = 0;
  o.zero = 4;
  EXPECT_THROW(o.validate(), UsageError);
  o.zero = -1;
  EXPECT_THROW(o.validate(), UsageError);
  o.zero = 1;
  o.servers = 1;
  EXPECT_THROW(o.validate(), UsageError);
  o.servers = 0;
  o.tp = 2;
  EXPECT_NO_THROW(o.validate());  // the dp axis of a mesh (zero_mesh_test.cpp)
  o.tp = 1;
  o.sync = parse_sync_flag("ring");
  EXPECT_THROW(o.validate(), UsageError);
}

TEST(ZeroBuckets, OwnedBucketsLieInOneShardEach) {
  // 10 floats, 3 shards [0,4) [4,7) [7,10); buckets of 4 from the end: [6,10) [2,6) [0,2)
  const auto b = owned_buckets(10, 4, 3);
  const std::vector<std::tuple<size_t, size_t, int>> want = {
      {7, 10, 2}, {6, 7, 1}, {4, 6, 1}, {2, 4, 0}, {0, 2, 0}};
  ASSERT_EQ(b.size(), want.size());
  for (size_t i = 0; i < b.size(); ++i)
    EXPECT_EQ(std::make_tuple(b[i].begin, b[i].end, b[i].owner), want[i]) << i;
}

TEST(ZeroReduce, RootGetsTheRingReduceScattersBits) {
  // values whose sum depends on the order of additions
  for (int n : {2, 3, 4}) {
    comm::ThreadsOptions threads;
    threads.world = n;
    comm::run_threads(threads, [n](comm::Comm& c) {
      auto data = [&](int rank) {
        std::vector<float> v(7 * n);
        for (size_t i = 0; i < v.size(); ++i)
          v[i] = std::ldexp(1.0f + 0.1f * static_cast<float>(i % 5), (rank * 7 + int(i)) % 23 - 11);
        return v;
      };
      comm::Group g = c.world();
      std::vector<float> ring = data(c.rank());
      comm::reduce_scatter(g, std::span<float>(ring));
      for (int root = 0; root < n; ++root) {
        const comm::Shard s = comm::shard_of(ring.size(), n, root);
        std::vector<float> mine = data(c.rank());
        std::span<float> part(mine.data() + s.offset, s.count);
        comm::reduce(g, part, root);
        if (c.rank() != root) continue;
        for (size_t i = 0; i < s.count; ++i) EXPECT_EQ(part[i], ring[s.offset + i]) << n << " " << i;
      }
    });
  }
}

TEST(ZeroGate, HintedUnitsArriveGatheredAndInOrder) {
  // a 100-float arena in units [0,30) [30,60) [60,100): every shard holds rank+1 + i/1000;
  // the first unit is gathered by acquire, the others by the prefetching thread
  for (int n : {2, 3}) {
    comm::ThreadsOptions threads;
    threads.world = n;
    comm::run_threads(threads, [n](comm::Comm& c) {
      const size_t total = 100;
      AdamW adam(std::span<const ParamSpec>{}, total, {});
      plait::Zero z(3, c.world().dup("zero"), total, adam);
      std::vector<float> params(total);
      auto want = [&](size_t i) {
        for (int r = 0; r < n; ++r) {
          const comm::Shard s = comm::shard_of(total, n, r);
          if (i >= s.offset && i < s.offset + s.count) return float(r + 1) + float(i) / 1000;
        }
        return 0.0f;
      };
      for (size_t i = 0; i < total; ++i) params[i] = want(i);
      z.bind_params(params);
      z.shard_params();  // the others' floats read 0 now
      const comm::Shard mine = z.shard();
      EXPECT_EQ(params[(mine.offset + mine.count) % total], 0.0f);  // the next shard's first
      const std::vector<ArenaRange> units = {{0, 30}, {30, 60}, {60, 100}};
      for (int pass = 0; pass < 2; ++pass) {
        for (size_t u = 0; u < units.size(); ++u) {
          z.acquire(units[u].first, units[u].second);
          if (u + 1 < units.size()) z.prefetch(std::span(&units[u + 1], 1));
          for (size_t i = units[u].first; i < units[u].second; ++i)
            ASSERT_EQ(params[i], want(i)) << n << " " << i;
          z.release(units[u].first, units[u].second);
        }
      }
      EXPECT_EQ(z.gathered_floats(), 2 * (total - mine.count));
      // a pass that acquires something else than it hinted is a bug, said so
      z.prefetch(std::span(&units[2], 1));
      EXPECT_THROW(z.acquire(0, 30), std::logic_error);
    });
  }
}

}  // namespace
}  // namespace plait
