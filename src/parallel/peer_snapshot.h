// Memory snapshots kept on a peer too (the Gemini idea, docs/FAULT_TOLERANCE.md
// "Memory snapshots on a peer"): with --memory-snapshot-every K under a supervisor, a
// data-parallel run keeps each snapshot twice: rank 0 commits it into the supervisor's
// shared-memory directory DIR (its node's /dev/shm), and a PEER rank, on another node
// when the job has one (host-aware: the lowest rank whose node differs from rank 0's;
// else rank 1), commits its own copy into DIR/peer on ITS node, from its own replica,
// in the background like rank 0's. Data-parallel replicas are bit-identical, so the
// peer's copy IS rank 0's state, and making it moves no bytes between nodes.
//
// A resumed run (collective over the data-parallel ranks) looks for the newest
// snapshot any rank can read on its own node: rank 0's node holds DIR, the peer's node
// DIR/peer. When it is newer than the disk's newest checkpoint, the lowest rank holding
// it verifies it (sizes, XXH64, fingerprint) and sends the state to every rank, each
// tensor straight from the snapshot's mapped files (fault/mapped_checkpoint.h), while
// it copies them into its own arrays (a snapshot not stored tensor by tensor whole: it
// loads it and broadcasts); otherwise (none, older, or unusable) every rank loads the disk's, and
// when there is no checkpoint on disk either, the run starts anew. Rank 0 says which,
// and how long it took. So losing rank 0's node, with its /dev/shm,
// still restores from memory when the peer's node survives.
//
// Threads backend: every rank is on one machine, so "nodes" are --ranks-per-node
// blocks and both copies are in the same /dev/shm (emulation: it protects against a
// lost copy, not a lost machine). Test hook: PLAIT_TEST_LOSE_SNAPSHOT=primary|all
// makes a resumed run first delete rank 0's copy (primary) or both (all), as if rank
// 0's node, or every node, had been lost with its memory (once per run directory).
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "comm/group.h"
#include "parallel/replica.h"

namespace plait {

// The rank that keeps the second copy: the lowest rank on another node than rank 0's,
// else rank 1; -1 with one rank.
int snapshot_peer(const comm::Group& world);
// Where the peer's copy lives, under the supervisor's directory `dir`.
std::string peer_snapshot_dir(const std::string& dir);

// The test hook PLAIT_TEST_LOSE_SNAPSHOT (above); `run_dir` holds its marker.
void lose_snapshot_for_test(const std::string& dir, const std::string& run_dir);

// Replica::start for a data-parallel rank (collective over `world`): with --resume and
// memory snapshots, the newest state any rank holds in memory or on disk, as above;
// otherwise r.start().
void start_replica(Replica& r, comm::Group& world);

}  // namespace plait
