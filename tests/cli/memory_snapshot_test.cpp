// Memory snapshots (docs/FAULT_TOLERANCE.md, "Memory snapshots"): under `train
// --max-restarts --memory-snapshot-every K` the supervisor owns a directory in shared
// memory that the training process commits a snapshot into every K steps; a kill -9
// (PLAIT_TEST_KILL) when the snapshot is newer than the disk's checkpoint resumes from
// the snapshot, and the final weights equal an uninterrupted run's byte for byte. The
// directory is gone when supervision ends. Hooks, not timing, decide.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "run_plait.h"

namespace plait::test {
namespace {

namespace fs = std::filesystem;

std::string args(const TempDir& d, const std::string& run) {
  return tiny_train_args(d, run, "--batch 4 --steps 16 --checkpoint-every 8 --workers 2");
}

class MemorySnapshot : public CorpusTest {};

TEST_F(MemorySnapshot, KillResumesFromTheNewerSnapshotByteIdentical) {
  Result r = run_plait(args(d, "ref"));
  ASSERT_EQ(r.code, 0) << r.err;
  // Killed at step 7 (disk: nothing yet, memory: step 6) and at step 13 (disk: step 8,
  // memory: step 12).
  r = run_plait(args(d, "mem") + " --max-restarts 2 --memory-snapshot-every 2",
                "PLAIT_TEST_KILL=1:7,0:13");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("restart 1 of 2 from step-00000006 in the memory snapshot (disk: none)"),
            std::string::npos) << r.err;
  EXPECT_NE(r.err.find("resumed from step 6 in the memory snapshot"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("restart 2 of 2 from step-00000012 in the memory snapshot (disk: "
                       "step-00000008)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("resumed from step 12 in the memory snapshot"), std::string::npos) << r.err;
  for (const char* f : {"model.safetensors", "optimizer.safetensors"}) {
    const std::string a = slurp(d.path / "ref" / "step-00000016" / f);
    ASSERT_FALSE(a.empty()) << f;
    EXPECT_TRUE(a == slurp(d.path / "mem" / "step-00000016" / f)) << f << " differs";
  }
  // The supervisor removed its shared-memory directory.
  const auto sup = nlohmann::json::parse(slurp(d / "mem/supervisor.json"));
  const std::string dir = sup.value("memory_snapshot_dir", "");
  ASSERT_FALSE(dir.empty()) << sup.dump();
  EXPECT_FALSE(fs::exists(dir)) << dir;
}

TEST_F(MemorySnapshot, OlderSnapshotLosesToTheDisk) {
  // Killed as step 8 starts: the disk has step 8, the memory snapshot step 6 (every 3).
  const Result r = run_plait(args(d, "disk") + " --max-restarts 1 --memory-snapshot-every 3",
                             "PLAIT_TEST_KILL=0:8");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("restart 1 of 1 from step-00000008"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("resumed from step 8 on disk"), std::string::npos) << r.err;
}

// The peer's copy (parallel/peer_snapshot.h): 2 workers on 2 emulated nodes, so rank 1
// keeps a second snapshot in DIR/peer. Killed at step 7 with rank 0's copy lost (as if
// its node had gone with its /dev/shm, PLAIT_TEST_LOSE_SNAPSHOT=primary): the restart
// restores step 6 from the peer's copy, sent to rank 0, and ends byte-identical.
TEST_F(MemorySnapshot, PeerCopyRestoresWhenRankZerosCopyIsLost) {
  const std::string two = " --ranks-per-node 1 --max-restarts 2 --memory-snapshot-every 2";
  Result r = run_plait(args(d, "ref") + " --ranks-per-node 1");
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_plait(args(d, "peer") + two, "PLAIT_TEST_KILL=1:7 PLAIT_TEST_LOSE_SNAPSHOT=primary");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("resumed from step 6 in the memory snapshot on rank 1's node (the "
                       "peer's copy; rank 0's node has none"), std::string::npos) << r.err;
  for (const char* f : {"model.safetensors", "optimizer.safetensors"})
    EXPECT_TRUE(slurp(d.path / "ref" / "step-00000016" / f) ==
                slurp(d.path / "peer" / "step-00000016" / f)) << f << " differs";
  // Both copies lost at step 13: the disk's step 8, and still byte-identical.
  r = run_plait(args(d, "disk2") + two, "PLAIT_TEST_KILL=0:13 PLAIT_TEST_LOSE_SNAPSHOT=all");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("resumed from step 8 on disk"), std::string::npos) << r.err;
  EXPECT_TRUE(slurp(d.path / "ref" / "step-00000016" / "model.safetensors") ==
              slurp(d.path / "disk2" / "step-00000016" / "model.safetensors"));
  // Without the loss, rank 0's own copy is used.
  r = run_plait(args(d, "own") + two, "PLAIT_TEST_KILL=1:7");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("resumed from step 6 in the memory snapshot on rank 0's node (rank 0's "
                       "copy"), std::string::npos) << r.err;
}

TEST_F(MemorySnapshot, UsageErrors) {
  Result r = run_plait(args(d, "u1") + " --memory-snapshot-every 2");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--memory-snapshot-every needs a supervisor"), std::string::npos) << r.err;
  r = run_plait(args(d, "u2") + " --servers 1 --max-restarts 1 --memory-snapshot-every 2");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("not with --servers"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace plait::test
