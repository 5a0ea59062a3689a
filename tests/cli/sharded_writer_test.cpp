// The background checkpoint writer for sharded checkpoints (docs/FAULT_TOLERANCE.md,
// "Checkpoints off the training thread"): under --tp/--pp (and ZeRO over a mesh's
// data-parallel axis) every rank snapshots its boxes and its writer thread takes part
// in the collective write. It writes the same bytes as the inline writer, a resumed run
// is bit-identical to an uninterrupted one, and a crash at each phase of a write
// (PLAIT_TEST_CRASH_AT) leaves the previous checkpoint the one every reader picks.
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "run_plait.h"

namespace plait::test {
namespace {

namespace fs = std::filesystem;

std::string args(const TempDir& d, const std::string& run, const std::string& layout) {
  return "train --data " + (d / "c.txt") +
         " --layers 2 --dim 32 --heads 4 --ctx 16 --batch 4 --steps 8 --eval-every 0"
         " --checkpoint-every 2 --keep-checkpoints 20 --no-progress --checkpoint-dir " +
         (d / run) + " " + layout;
}

// Every file of checkpoint `step` in runs a and b is the same, byte for byte (the
// manifest apart from the run's id and the balancer's measured costs).
void expect_same_checkpoint(const TempDir& d, const std::string& a, const std::string& b,
                            const std::string& step) {
  const fs::path da = d.path / a / step, db = d.path / b / step;
  std::set<std::string> fa, fb;
  for (const auto& e : fs::directory_iterator(da)) fa.insert(e.path().filename().string());
  for (const auto& e : fs::directory_iterator(db)) fb.insert(e.path().filename().string());
  ASSERT_EQ(fa, fb) << da << " vs " << db;
  ASSERT_GT(fa.size(), 3u) << "a sharded checkpoint has a file per rank and role";
  for (const std::string& f : fa) {
    if (f == "manifest.json") {
      auto ma = nlohmann::json::parse(slurp(da / f)), mb = nlohmann::json::parse(slurp(db / f));
      for (auto* m : {&ma, &mb}) {
        m->erase("run");
        if ((*m)["extra"].contains("balance")) (*m)["extra"]["balance"].erase("costs");
      }
      EXPECT_EQ(ma, mb) << step << "/" << f;
    } else {
      EXPECT_TRUE(slurp(da / f) == slurp(db / f)) << step << "/" << f << " differs: " << a << " vs " << b;
    }
  }
}

class ShardedWriter : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { write_file(d / "c.txt", small_corpus()); }
  TempDir d;
};

TEST_P(ShardedWriter, SameBytesAsInlineAndResumeIsBitIdentical) {
  const std::string layout = GetParam();
  Result r = run_plait(args(d, "bg", layout));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_plait(args(d, "inline", layout) + " --checkpoint-writer inline");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* step : {"step-00000002", "step-00000004", "step-00000006", "step-00000008"})
    expect_same_checkpoint(d, "bg", "inline", step);
  // stopped after 4 steps (its last checkpoint written in the background), resumed
  r = run_plait(args(d, "res", layout) + " --stop-after 4");
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_plait(args(d, "res", layout) + " --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_checkpoint(d, "bg", "res", "step-00000008");
}

INSTANTIATE_TEST_SUITE_P(Layouts, ShardedWriter,
                         ::testing::Values("--workers 2 --tp 2", "--workers 2 --pp 2",
                                           "--workers 4 --pp 2 --zero 3"),
                         [](const ::testing::TestParamInfo<const char*>& i) {
                           std::string n;
                           for (const char* c = i.param; *c; ++c)
                             if (std::isalnum(static_cast<unsigned char>(*c))) n += *c;
                           return n;
                         });

class ShardedCrash : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { write_file(d / "c.txt", small_corpus()); }
  TempDir d;
};

// A crash inside the step-4 write of a tp 2 x pp 2 run, from a writer thread.
TEST_P(ShardedCrash, PreviousCheckpointStaysAndResumeIsByteIdentical) {
  const std::string phase = GetParam(), layout = "--workers 4 --tp 2 --pp 2";
  Result r = run_plait(args(d, "ref", layout));
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_NO_FATAL_FAILURE(
      expect_crash_in_step4_write(args(d, "run", layout), d.path / "run", phase));
  r = run_plait(args(d, "run", layout) + " --resume");
  ASSERT_EQ(r.code, 0) << r.err;
  expect_same_checkpoint(d, "ref", "run", "step-00000008");
  expect_only_committed(d.path / "run");
}

INSTANTIATE_TEST_SUITE_P(Phases, ShardedCrash,
                         ::testing::Values("data", "manifest", "rename", "latest"));

}  // namespace
}  // namespace plait::test
