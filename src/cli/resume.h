// `plait train --resume` continues a run from its latest checkpoint without the
// user repeating its flags:
//   --resume        the checkpoint must exist (exit 2 naming the directory if not);
//   --resume auto   resume when a checkpoint exists, start fresh when there is none,
//                   so one job script both starts a run and continues it after a
//                   requeue (Slurm style); a run already at its last step ends at once.
// The model (--layers --dim --heads --ctx), --batch, --steps, --lr, --warmup, --seed,
// --weight-decay and --clip come from the checkpoint; the corpus (--data) from the
// run's train.json, written beside its checkpoints when it started. A flag given
// again must agree with the checkpoint: otherwise exit 2, naming both values as
// written ("--lr 0.5 ... made with --lr 2e-3").
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "parallel/train_options.h"

namespace plait::cli {

enum class Resume { no, latest, auto_ };

// What --resume (added by add_train_flags) asked for; UsageError for a value other
// than "auto".
Resume resume_mode(const CLI::App& cmd);

// Settles opt.resume and, when resuming, fills `opt` from the checkpoint in
// opt.checkpoint_dir as described above. Returns false when there is nothing left to
// do (--resume auto and the run already reached its last step).
bool apply_resume(const CLI::App& cmd, Resume mode, TrainOptions& opt);

// Records how a fresh run started (its corpus files as absolute paths, the flags as
// written) in CHECKPOINT_DIR/train.json, for a later --resume.
void record_run(const CLI::App& cmd, const TrainOptions& opt);

}  // namespace plait::cli
