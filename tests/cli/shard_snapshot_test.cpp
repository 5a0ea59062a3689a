// Memory snapshots of sharded states (parallel/shard_snapshot.h): with --tp/--pp and
// --zero every rank keeps its piece of the state in memory and a peer rank keeps a copy.
// A kill -9 (PLAIT_TEST_KILL) under the supervisor with the killed rank's node lost
// (PLAIT_TEST_LOSE_SNAPSHOT=node:R: its own piece and the copy it kept are gone) restores
// from the survivors' memory, one piece from a peer's copy, and the final weights equal
// the uninterrupted run's byte for byte; with every copy lost the disk's checkpoint is
// used, still byte-identical. Every rank is its own emulated node (--ranks-per-node 1).
#include <gtest/gtest.h>

#include <filesystem>
#include <ostream>

#include "run_plait.h"

namespace plait::test {
namespace {

namespace fs = std::filesystem;

struct Layout {
  const char* name;
  const char* flags;
  int ranks;
};
void PrintTo(const Layout& l, std::ostream* os) { *os << l.flags; }

class ShardSnapshot : public ::testing::TestWithParam<Layout> {
 protected:
  void SetUp() override { write_file(d / "c.txt", small_corpus()); }
  std::string args(const std::string& run) const {
    return "train --data " + (d / "c.txt") +
           " --layers 2 --dim 32 --heads 4 --ctx 16 --batch 4 --steps 16 --eval-every 0"
           " --checkpoint-every 8 --ranks-per-node 1 --no-progress " + GetParam().flags +
           " --checkpoint-dir " + (d / run);
  }
  // Every tensor file of the final checkpoints is the same.
  void expect_same_final(const std::string& a, const std::string& b) const {
    int files = 0;
    for (const auto& e : fs::directory_iterator(d.path / a / "step-00000016")) {
      if (e.path().extension() != ".safetensors") continue;
      ++files;
      EXPECT_TRUE(slurp(e.path()) == slurp(d.path / b / "step-00000016" / e.path().filename()))
          << e.path().filename() << " differs between " << a << " and " << b;
    }
    EXPECT_GT(files, 0) << a;
  }
  TempDir d;
};

TEST_P(ShardSnapshot, LostNodeRestoresFromThePeersCopyElseTheDisk) {
  const std::string sup = " --max-restarts 2 --memory-snapshot-every 2";
  Result r = run_plait(args("ref"));
  ASSERT_EQ(r.code, 0) << r.err;
  // rank 1 killed at step 7 (memory: step 6, disk: none) and its node's memory lost
  r = run_plait(args("peer") + sup, "PLAIT_TEST_KILL=1:7 PLAIT_TEST_LOSE_SNAPSHOT=node:1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("restart 1 of 2 from step-00000006 in the memory snapshot (disk: none)"),
            std::string::npos) << r.err;
  const std::string ranks = std::to_string(GetParam().ranks);
  EXPECT_NE(r.err.find("resumed from step 6 in the memory snapshot: " + ranks +
                       " ranks' pieces, 1 of them from a peer's copy"), std::string::npos) << r.err;
  expect_same_final("ref", "peer");
  // nothing lost: every rank's own piece
  r = run_plait(args("own") + sup, "PLAIT_TEST_KILL=0:11");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("resumed from step 10 in the memory snapshot: " + ranks +
                       " ranks' pieces, 0 of them from a peer's copy"), std::string::npos) << r.err;
  expect_same_final("ref", "own");
  // every copy lost at step 13: the disk's step 8
  r = run_plait(args("disk") + sup, "PLAIT_TEST_KILL=0:13 PLAIT_TEST_LOSE_SNAPSHOT=all");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("resumed from step 8 on disk"), std::string::npos) << r.err;
  expect_same_final("ref", "disk");
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, ShardSnapshot,
    ::testing::Values(Layout{"tp2", "--tp 2 --workers 2", 2}, Layout{"pp2", "--pp 2 --workers 2", 2},
                      Layout{"dp2_tp2", "--tp 2 --workers 4", 4},
                      Layout{"zero1", "--zero 1 --workers 2", 2},
                      Layout{"zero3", "--zero 3 --workers 3", 3},
                      Layout{"dp2_pp2_zero2", "--pp 2 --workers 4 --zero 2", 4}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace plait::test
