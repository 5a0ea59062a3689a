// One run per checkpoint directory (docs/SECURITY.md, "Runs"):
//   - a lock: CHECKPOINT_DIR/.lock, held with flock(2) for the process's life and
//     holding "pid host" for the message; a lock whose holder died is free again
//     (the kernel drops a dead process's flock), so a stale file never blocks a run;
//   - a fresh run (no --resume) into a directory that holds checkpoints is refused
//     unless --overwrite, which removes the old run's checkpoints first;
//   - taking the lock is also the writability check: it creates a file there, before
//     any training;
//   - a run id: new for a fresh run, the latest checkpoint's for a resumed one, written
//     into every manifest ("run") and train.json.
// Under MPI only the launcher's first process takes the lock and clears the directory.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "parallel/train_options.h"

namespace plait::cli {

// Adds --overwrite to `cmd`.
void add_overwrite_flag(CLI::App* cmd);

class RunGuard {
 public:
  // Locks opt.checkpoint_dir (which exists: prepare_output_dir) and applies the rules
  // above; a no-op without a checkpoint directory. UsageError (exit 2) on refusal.
  explicit RunGuard(const TrainOptions& opt);
  ~RunGuard();
  RunGuard(const RunGuard&) = delete;
  RunGuard& operator=(const RunGuard&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace plait::cli
