// Redundancy without the disk (docs/FAULT_TOLERANCE.md, "Memory snapshots"): every
// --memory-snapshot-every K steps the training process commits a snapshot of its whole
// state into a directory in shared memory (/dev/shm, a tmpfs) that the SUPERVISOR made
// and owns, so it outlives the training process; a restart resumes from it when it is
// newer than the newest checkpoint on disk and verifies (sizes and XXH64, as every
// checkpoint load does), and from the disk otherwise.
//
// A snapshot is an ordinary checkpoint (docs/CHECKPOINTS.md: same files, same atomic
// commit, keep_last 1) in another directory, written by a second background writer;
// so it is exact, and a run resumed from it is byte-identical to an uninterrupted one.
// It lives on the supervisor's machine only: it survives the training process (kill -9,
// the OOM killer), not the machine.
#pragma once
#include <cstdint>
#include <string>

namespace plait::fault {

// The environment variable through which the supervisor hands the directory to the
// training process (and mpirun's ranks, -x).
inline constexpr const char* kMemorySnapshotEnv = "PLAIT_MEMORY_SNAPSHOT_DIR";

// Creates a fresh private directory for one supervised run's snapshots: /dev/shm if it
// exists (else the temporary directory); RuntimeError if it cannot.
std::string make_memory_snapshot_dir();
// Removes it and everything in it (no error if it is gone).
void remove_memory_snapshot_dir(const std::string& dir);

// The step of the checkpoint `latest` names in `dir`, -1 when there is none (no
// verification: a cheap look for choosing where to resume from).
int64_t latest_step(const std::string& dir);

// The newest step a restart could restore from `dir` as this node sees it: the whole
// state's snapshot (dir or dir/peer), or a step at which every rank's piece of a sharded
// snapshot is there (dir/rank-R or dir/copy-R, parallel/shard_snapshot.h); -1 if none.
int64_t newest_snapshot_step(const std::string& dir);

}  // namespace plait::fault
