// Memory snapshots of a SHARDED state (docs/FAULT_TOLERANCE.md, "Memory snapshots of
// sharded states"): --memory-snapshot-every K with --tp/--pp (the mesh) or --zero 1|2|3,
// where no rank holds the whole state. The Gemini placement: every rank keeps its own
// PIECE of the state in its node's memory and a second copy on a peer rank's node.
//
// A rank's piece: the range shard_of(arena, D, d) of its arena's parameters and both
// AdamW moments, where the arena is the rank's own (its stage and tensor split; the
// whole model under data parallelism) and D, d its replica group's size and its rank in
// it (the data-parallel axis that shares the arena). The pieces of one replica group
// are disjoint and cover the arena, so the run's pieces together are its whole state,
// one time: a sharded snapshot costs each node its ranks' 1/D shares, not whole copies.
// Under ZeRO the range is the rank's ZeRO shard, whose moments are all it keeps.
//
// Every K steps (StepRunner::snapshot), on the training thread: one memcpy of the piece
// into this rank's buffer, handed to a thread of its own (at most one in flight, the
// next snapshot waits, as the background checkpoint writer does), which
//   1. commits the piece into DIR/rank-R (an ordinary one-writer checkpoint, fault/
//      checkpoint.h: files, XXH64, atomic commit; keep 1) on this rank's node;
//   2. sends it to the peer rank (on the next node, host-aware: the rank with the same
//      place among its node's ranks, else the next rank) over a group of its own, and
//      receives the pieces whose peer this rank is;
//   3. commits each received piece into DIR/copy-J on this rank's node.
// So the training thread pays the memcpy; the transfer and the writes run beside it.
//
// Restoring (--resume under the supervisor, collective over the world): every rank says
// which pieces its node holds (DIR/rank-J when J is on its node, DIR/copy-J when J's
// peer is); the newest step at which every piece is held somewhere is taken when it is
// newer than the disk's checkpoint: each piece's holder (J itself when it can) verifies
// it (XXH64, options' fingerprint, layout, rank); J's own piece is read straight into its
// arrays, another's is sent from the snapshot's mapped pages straight into J's arrays
// (before the holder's own load, which overlaps J's copy); each replica group allgathers
// its pieces. A piece that fails to verify sends everyone to the
// disk. The layout must be the run's (same ranks, tp, pp, dp, ZeRO stage, stages): a
// shrunk job restores from the disk.
//
// Test hook: PLAIT_TEST_LOSE_SNAPSHOT=node:R deletes, as a resumed run starts, every
// piece on world rank R's node (its own and the copies it keeps), as if the node had
// been lost with its memory (once per run directory).
#pragma once
#include <cstdint>
#include <exception>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "comm/group.h"
#include "fault/checkpoint.h"
#include "model/adamw.h"
#include "model/gpt.h"
#include "parallel/train_options.h"

namespace plait {

class ShardSnapshots {
 public:
  // Collective over `world` (a group of its own for the transfers). `replicas`: the
  // ranks sharing this rank's arena of `arena` floats; `layout`: what must match on
  // restore; `dir`: the supervisor's directory.
  ShardSnapshots(comm::Group& world, comm::Group replicas, size_t arena, std::string layout,
                 std::string dir);
  ~ShardSnapshots();
  ShardSnapshots(const ShardSnapshots&) = delete;
  ShardSnapshots& operator=(const ShardSnapshots&) = delete;

  // The piece's range of the arena.
  size_t offset() const { return offset_; }
  size_t count() const { return count_; }

  // The training thread's part of a snapshot after `meta.step` steps (meta: the manifest
  // fields, no tensors): waits for the previous one (rethrowing its failure), copies the
  // piece and starts the thread. `params`: the arena; `m`, `v`: the arena's moments, or
  // the piece's only (ZeRO).
  void submit(CheckpointData meta, std::span<const float> params, std::span<const float> m,
              std::span<const float> v);
  // Waits for the snapshot in flight; throws its failure.
  void wait();

  // Collective over the world: restores the newest complete set of pieces newer than
  // disk step `disk_step` into params and m, v (sized as for submit; whole moments are
  // allgathered over the replicas, ZeRO's stay the piece's). Returns its step and sets
  // `extra` (the manifest's extra) and `from` (for the log line), or -1 when the disk
  // (or a new start) is the way. `fingerprint`: the options it must have been made with.
  int64_t restore(const nlohmann::json& fingerprint, int64_t disk_step, std::span<float> params,
                  std::span<float> m, std::span<float> v, nlohmann::json& extra,
                  std::string& from);
  // The test hook PLAIT_TEST_LOSE_SNAPSHOT (collective; before restore). `run_dir`: the
  // checkpoint directory (the hook's once-per-run marker).
  void lose_node_for_test(const std::string& run_dir);

 private:
  void exchange();  // the thread: commit, send, receive, commit the copies

  comm::Group world_, xfer_, replicas_;
  size_t arena_, offset_, count_;
  std::string layout_, dir_;
  int peer_ = -1;             // who keeps this rank's copy (-1: one rank)
  std::vector<int> keeps_;    // whose copies this rank keeps
  CheckpointData meta_;       // of the snapshot in flight
  std::vector<float> buf_;    // its piece: params | m | v of the range
  std::thread thread_;
  std::exception_ptr error_;
};

// --resume with sharded snapshots (collective over the world): the restore above into
// `model` and `adam` (whole moments: before ZeRO keeps its shard) when memory is newer
// than the disk; rank 0 (`say`) prints where from and how long it took. Returns the
// step, or -1: load the disk as usual (start_state).
int64_t restore_pieces(ShardSnapshots& pieces, const TrainOptions& opt,
                       const nlohmann::json& fingerprint, GPT& model, AdamW& adam,
                       nlohmann::json& extra, bool say);

// "mesh dp2 x tp2 x pp1, zero 0, stages 2,2 on 4 ranks": what a piece's layout must be.
std::string piece_layout(const TrainOptions& opt, int ranks);

// The rank keeping world rank r's copy: the rank with r's place among its node's ranks
// on the next node (cyclically), or r + 1 (mod world) on one node; -1 with one rank.
int snapshot_keeper(const comm::Group& world, int r);

}  // namespace plait
