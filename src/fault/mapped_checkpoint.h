// A verified checkpoint's tensors as they lie in its files, mapped read-only. A restore
// that hands a checkpoint kept in shared memory (a memory snapshot in /dev/shm, docs/
// FAULT_TOLERANCE.md) to other ranks sends the bytes straight from the snapshot's pages
// instead of loading them into a buffer first.
#pragma once
#include <map>
#include <span>
#include <string>
#include <vector>

#include "fault/checkpoint.h"

namespace plait {

class MappedCheckpoint {
 public:
  // Maps every file of `ck`, which load_checkpoint has opened and verified (sizes,
  // XXH64): the mapping shows the bytes it checked as long as nothing rewrites the
  // files (the newest checkpoint is never rewritten; a pruned one may be, as the spare
  // that a later save overwrites, fault/checkpoint_names.h). RuntimeError when a file cannot
  // be mapped.
  explicit MappedCheckpoint(const LoadedCheckpoint& ck);
  ~MappedCheckpoint();
  MappedCheckpoint(const MappedCheckpoint&) = delete;
  MappedCheckpoint& operator=(const MappedCheckpoint&) = delete;

  // Tensor `name` whole, as stored (row-major F32): when one shard covering all of it
  // holds it, in one file; else (absent, or stored in slices) empty.
  std::span<const float> whole(const std::string& name) const;

 private:
  struct Map {
    void* base = nullptr;
    size_t bytes = 0;
  };
  std::vector<Map> maps_;                                 // one per file
  std::map<std::string, std::span<const float>> whole_;  // the tensors stored whole
};

}  // namespace plait
