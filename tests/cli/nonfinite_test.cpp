// --on-nonfinite stop|skip|rollback (docs/FAULT_TOLERANCE.md, "Numerical faults"). The
// PLAIT_TEST_NAN_AT=STEP:TENSOR hook puts a NaN into one gradient at a known step
// (STEP+: every step from STEP on, a run that keeps diverging). No mode ever exits 0 with a
// non-finite state, and the step that was not finite changes nothing.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "fault/checkpoint.h"
#include "run_plait.h"

namespace plait::test {
namespace {

namespace fs = std::filesystem;
const char* kTensor = "transformer.h.0.attn.c_attn.weight";

class NonFinite : public CorpusTest {
 protected:
  std::string args(const std::string& run, const std::string& more = "", int every = 1) const {
    return tiny_train_args(d, run, "--batch 4 --steps 8 --workers 2 --keep-checkpoints 20"
                                   " --checkpoint-every " + std::to_string(every)) +
           " --log " + (d / (run + ".jsonl")) + " " + more;
  }
  std::vector<nlohmann::json> events(const std::string& run, const std::string& kind) const {
    std::vector<nlohmann::json> out;
    std::istringstream in(slurp(d.path / (run + ".jsonl")));
    for (std::string line; std::getline(in, line);) {
      const auto j = nlohmann::json::parse(line);
      if (j.value("event", "") == kind) out.push_back(j);
    }
    return out;
  }
  // Run "skip" (a NaN put into step 4's gradient, --on-nonfinite skip) ended as it should:
  // exit 0, the skip said, the state after step 4 the state after step 3 (parameters and
  // moments) while step 5 updates again, and one nonfinite event naming step 4, the
  // action and the tensor. (Under ASSERT_NO_FATAL_FAILURE.)
  void expect_step4_skipped(const Result& r) const;
};

std::string nan_at(int step) {
  return "PLAIT_TEST_NAN_AT=" + std::to_string(step) + ":" + kTensor;
}

// Every tensor of checkpoints a and b, bit for bit.
bool same_state(const fs::path& a, const fs::path& b) {
  const LoadedCheckpoint ca = load_checkpoint(a), cb = load_checkpoint(b);
  for (const std::string& name : ca.names()) {
    const auto& shape = ca.shape(name);
    size_t n = 1;
    for (int64_t e : shape) n *= static_cast<size_t>(e);
    std::vector<float> x(n), y(n);
    ca.read(name, shape, x);
    cb.read(name, shape, y);
    if (std::memcmp(x.data(), y.data(), n * sizeof(float)) != 0) return false;
  }
  return true;
}

// |a - b| / |b| over every parameter of checkpoints a and b (tools/weights_diff.py's
// figure; any layouts: the loader assembles each tensor from its shards).
double relative_l2(const fs::path& a, const fs::path& b) {
  const LoadedCheckpoint ca = load_checkpoint(a), cb = load_checkpoint(b);
  double diff = 0, norm = 0;
  for (const auto& [name, t] : ca.tensors()) {
    if (t.role != "model") continue;
    size_t n = 1;
    for (int64_t e : t.shape) n *= static_cast<size_t>(e);
    std::vector<float> x(n), y(n);
    ca.read(name, t.shape, x);
    cb.read(name, t.shape, y);
    for (size_t i = 0; i < n; ++i) {
      diff += (double{x[i]} - y[i]) * (double{x[i]} - y[i]);
      norm += double{y[i]} * y[i];
    }
  }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

TEST_F(NonFinite, StopNamesTheStepAndTheFirstNonFiniteTensor) {
  const Result r = run_plait(args("stop"), nan_at(3));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("step 4 is not finite"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(std::string("first non-finite tensor: ") + kTensor + " grad"),
            std::string::npos) << r.err;
  EXPECT_EQ(latest_checkpoint(d.path / "stop"), d.path / "stop" / "step-00000003");
}

TEST_F(NonFinite, DivergingRunNeverExitsZero) {
  for (const char* mode : {"stop", "skip", "rollback"}) {
    const Result r = run_plait(args(std::string("div-") + mode,
                                    std::string("--max-nonfinite 2 --on-nonfinite ") + mode),
                               "PLAIT_TEST_NAN_AT=2+");
    EXPECT_EQ(r.code, 1) << mode << "\n" << r.err;
    EXPECT_NE(r.err.find("is not finite"), std::string::npos) << mode << "\n" << r.err;
    if (std::string(mode) != "stop") {
      EXPECT_NE(r.err.find("giving up after 2"), std::string::npos) << r.err;
    }
  }
}

void NonFinite::expect_step4_skipped(const Result& r) const {
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("update skipped"), std::string::npos) << r.err;
  EXPECT_TRUE(same_state(d.path / "skip" / "step-00000003", d.path / "skip" / "step-00000004"));
  EXPECT_FALSE(same_state(d.path / "skip" / "step-00000004", d.path / "skip" / "step-00000005"));
  const auto ev = events("skip", "nonfinite");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0]["step"], 4);
  EXPECT_EQ(ev[0]["action"], "skip");
  EXPECT_EQ(ev[0]["tensor"], std::string(kTensor) + " grad");
}

TEST_F(NonFinite, SkipDropsTheUpdateAndLeavesTheOptimizerUntouched) {
  ASSERT_NO_FATAL_FAILURE(
      expect_step4_skipped(run_plait(args("skip", "--on-nonfinite skip"), nan_at(3))));
  ASSERT_EQ(run_plait("inspect " + (d / "skip")).code, 0);  // finite: loads without --allow-nonfinite
}

TEST_F(NonFinite, RollbackReloadsTheLastCheckpointAndShiftsTheData) {
  Result r = run_plait(args("ref", "", 2));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_plait(args("rb", "--on-nonfinite rollback", 2), nan_at(5));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("rolled back to step 4"), std::string::npos) << r.err;
  const auto ev = events("rb", "nonfinite");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0]["step"], 6);
  EXPECT_EQ(ev[0]["action"], "rollback");
  EXPECT_EQ(ev[0]["resumed_at"], 4);
  // Up to the checkpoint it rolled back to, the run is the reference run...
  EXPECT_TRUE(same_state(d.path / "ref" / "step-00000004", d.path / "rb" / "step-00000004"));
  // ...then steps 5.. draw the batches of steps 7.. (shifted past the failed 5 and 6).
  EXPECT_FALSE(same_state(d.path / "ref" / "step-00000008", d.path / "rb" / "step-00000008"));
  const auto m = nlohmann::json::parse(slurp(d.path / "rb" / "step-00000008" / "manifest.json"));
  EXPECT_EQ(m["extra"]["data_shift"], 2) << m["extra"];
  // A resumed run keeps the shift: stopping at 6 and resuming ends at the same state.
  r = run_plait(args("rb2", "--on-nonfinite rollback --stop-after 6", 2), nan_at(5));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_plait(args("rb2", "--on-nonfinite rollback --resume", 2));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(same_state(d.path / "rb" / "step-00000008", d.path / "rb2" / "step-00000008"));
}

TEST_F(NonFinite, BadFlagsAreUsageErrors) {
  Result r = run_plait(args("x", "--on-nonfinite sideways"));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--on-nonfinite"), std::string::npos) << r.err;
  r = run_plait("train --steps 2 --no-progress --on-nonfinite rollback");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--checkpoint-dir"), std::string::npos) << r.err;
  r = run_plait(args("x", "--on-nonfinite rollback --servers 1 --ps-mode async"));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("needs --ps-mode sync"), std::string::npos) << r.err;
  r = run_plait(args("x", "--on-nonfinite rollback --servers 1 --backup-workers 1"));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--backup-workers"), std::string::npos) << r.err;
}

// skip and stop in every architecture: tensor and pipeline parallelism (the tensor is
// named by a collective over the ranks' boxes), ZeRO 1-3 (over the shards), and the
// parameter server (the servers drop the update; sync and async).
class NonFiniteLayout : public NonFinite, public ::testing::WithParamInterface<const char*> {
 protected:
  std::string layout_args(const std::string& run, const std::string& more) const {
    return "train --data " + (d / "c.txt") +
           " --layers 2 --dim 32 --heads 4 --ctx 16 --batch 4 --steps 6 --eval-every 0"
           " --workers 2 --no-progress --keep-checkpoints 20 --checkpoint-every 1"
           " --checkpoint-dir " + (d / run) + " --log " + (d / (run + ".jsonl")) + " " +
           GetParam() + " " + more;
  }
};

TEST_P(NonFiniteLayout, SkipDropsTheUpdate) {
  expect_step4_skipped(run_plait(layout_args("skip", "--on-nonfinite skip"), nan_at(3)));
}

TEST_P(NonFiniteLayout, StopNamesTheFirstNonFiniteTensor) {
  const Result r = run_plait(layout_args("stop", ""), nan_at(3));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("step 4 is not finite"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(std::string("first non-finite tensor: ") + kTensor + " grad"),
            std::string::npos) << r.err;
  EXPECT_EQ(latest_checkpoint(d.path / "stop"), d.path / "stop" / "step-00000003");
}

INSTANTIATE_TEST_SUITE_P(Layouts, NonFiniteLayout,
                         ::testing::Values("--tp 2", "--pp 2", "--zero 1", "--zero 2", "--zero 3",
                                           "--servers 1"),
                         [](const ::testing::TestParamInfo<const char*>& i) {
                           std::string n;
                           for (const char* c = i.param; *c; ++c)
                             if (std::isalnum(static_cast<unsigned char>(*c))) n += *c;
                           return n;
                         });

// rollback where the state is sharded: every mesh rank reloads its boxes, every ZeRO
// rank its shard of the moments, through the layout-free loader; under --servers
// every worker reloads the checkpoint and worker 0 sends each server its shard. The run equals the
// data-parallel rollback run of the same settings (within 1e-5: tensor and pipeline
// splits and ZeRO-3 add in another order), keeps the shift in its checkpoints and
// resumes from them exactly.
class NonFiniteRollback : public NonFinite, public ::testing::WithParamInterface<const char*> {
 protected:
  std::string rollback_args(const std::string& run, const std::string& layout) const {
    return "train --data " + (d / "c.txt") +
           " --layers 2 --dim 32 --heads 4 --ctx 16 --batch 4 --steps 6 --eval-every 0"
           " --no-progress --keep-checkpoints 20 --checkpoint-every 2 --on-nonfinite rollback"
           " --checkpoint-dir " + (d / run) + " --log " + (d / (run + ".jsonl")) + " " + layout;
  }
};

TEST_P(NonFiniteRollback, EqualsTheDataParallelRollback) {
  Result r = run_plait(rollback_args("dp", "--workers 2"), nan_at(3));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_plait(rollback_args("rb", GetParam()), nan_at(3));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("step 4 is not finite"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("rolled back to step 2"), std::string::npos) << r.err;
  const auto ev = events("rb", "nonfinite");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0]["action"], "rollback");
  EXPECT_EQ(ev[0]["resumed_at"], 2);
  const auto m = nlohmann::json::parse(slurp(d.path / "rb" / "step-00000006" / "manifest.json"));
  EXPECT_EQ(m["extra"]["data_shift"], 2) << m["extra"];
  const double diff = relative_l2(d.path / "dp" / "step-00000006", d.path / "rb" / "step-00000006");
  EXPECT_LT(diff, 1e-5) << GetParam();
  // without the rollback the data order differs: the comparison can fail
  r = run_plait(rollback_args("plain", "--workers 2"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_GT(relative_l2(d.path / "plain" / "step-00000006", d.path / "rb" / "step-00000006"), 1e-4);
  // stopped after the rollback and resumed: the shift is kept, the state exact
  r = run_plait(rollback_args("rb2", GetParam()) + " --stop-after 4", nan_at(3));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_plait(rollback_args("rb2", GetParam()) + " --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(same_state(d.path / "rb" / "step-00000006", d.path / "rb2" / "step-00000006"));
}

INSTANTIATE_TEST_SUITE_P(Layouts, NonFiniteRollback,
                         ::testing::Values("--workers 2 --tp 2", "--workers 2 --pp 2",
                                           "--workers 2 --zero 1", "--workers 2 --zero 3",
                                           "--workers 4 --pp 2 --zero 2",
                                           "--workers 2 --servers 1", "--workers 2 --servers 2"),
                         [](const ::testing::TestParamInfo<const char*>& i) {
                           std::string n;
                           for (const char* c = i.param; *c; ++c)
                             if (std::isalnum(static_cast<unsigned char>(*c))) n += *c;
                           return n;
                         });

}  // namespace
}  // namespace plait::test
