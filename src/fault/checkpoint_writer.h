// The background checkpoint writer (CheckFreq's split): the training thread only takes
// a SNAPSHOT of the state (a copy of every tensor into the writer's arena, plus the
// manifest's JSON); serialising, checksumming, writing, fsyncing and the atomic commit
// of fault/checkpoint.h run on a thread of their own ("plait-ckpt") while training
// goes on. The arena is laid out so that the files' O_DIRECT writes take the tensors
// from it without another copy (fs::DurableFile's direct mode; the hash is the only
// pass of the CPU over them), and it is reused by every snapshot.
//
// Ordering guarantees:
//   - at most one write is in flight. submit() first WAITS for the write before it
//     (the snapshot buffer is reused), so every due checkpoint is written, in step
//     order; when writes take longer than the steps between them, training waits
//     instead of checkpoints being skipped.
//   - the commit protocol is unchanged (docs/CHECKPOINTS.md): `latest` moves only
//     after the data and manifest are durable, so a crash mid-write leaves the previous
//     checkpoint as the newest loadable one.
//   - a write's failure is thrown (CheckpointWriteError, naming the run directory and
//     the step) from the next submit() or wait() on the training thread; the destructor
//     waits for the write in flight (and reports a failure nobody collected on stderr).
//
// Sharded checkpoints (a tensor/pipeline-parallel mesh, fault/checkpoint.h's
// ShardWriter with world > 1): every rank has its own writer, and the writers run the
// collective save among themselves; the ShardWriter's barrier must then be one the
// writer threads may call while the training threads communicate (a group of their
// own: comm::Group::dup), never the training thread's group. Every rank submits the
// same steps in the same order, so the writers meet in the same collective saves.
#pragma once
#include <array>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fault/checkpoint.h"
#include "util/error.h"

namespace plait {

// A background checkpoint write failed. what(): one line naming the run directory,
// the checkpoint and the reason.
struct CheckpointWriteError : RuntimeError {
  CheckpointWriteError(const std::string& message, std::filesystem::path where)
      : RuntimeError(message), path(std::move(where)) {}
  std::filesystem::path path;  // the checkpoint directory that was being written
};

class CheckpointWriter {
 public:
  // `shard`: who this rank is among the writers of one checkpoint (default: alone).
  CheckpointWriter(std::filesystem::path run_dir, int keep_last, ShardWriter shard = {});
  ~CheckpointWriter();
  CheckpointWriter(const CheckpointWriter&) = delete;
  CheckpointWriter& operator=(const CheckpointWriter&) = delete;

  // Waits for the write in flight (rethrowing its failure), copies `data` (its tensors'
  // bytes too: the caller may change them as soon as this returns) and starts writing
  // it. Returns the directory the checkpoint will have once committed.
  std::filesystem::path submit(const CheckpointData& data);
  // Waits for the write in flight; throws CheckpointWriteError if it failed.
  void wait();
  // Seconds the training thread spent in submit() and wait() so far: the snapshot
  // copies plus waiting for earlier writes (what checkpointing costs training).
  double blocked_seconds() const { return blocked_s_; }
  // Seconds the background thread spent writing, all writes so far.
  double write_seconds() const { return write_s_; }
  int64_t writes() const { return writes_; }

 private:
  void join();  // waits for the thread; keeps its failure in error_
  void snapshot(const CheckpointData& data);
  CheckpointDataOffsets data_offsets(const CheckpointData& data);

  std::filesystem::path run_dir_;
  int keep_last_;
  ShardWriter shard_;
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  CheckpointData pending_;      // the snapshot being written (tensors point into arena_)
  std::unique_ptr<std::byte, Free> arena_;  // every tensor of the snapshot (snapshot())
  size_t arena_bytes_ = 0;
  CheckpointDataOffsets offsets_;       // where the snapshot's files' data start
  std::array<size_t, 5> offsets_key_{};  // what offsets_ was computed for (data_offsets)
  std::thread thread_;
  std::exception_ptr error_;    // the failure of the last write, until thrown
  double blocked_s_ = 0, write_s_ = 0, last_write_s_ = 0;
  int64_t writes_ = 0;
};

}  // namespace plait
