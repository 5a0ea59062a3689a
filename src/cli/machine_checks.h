// What this machine can schedule and hold, checked when a command knows its sizes and
// before it starts a thread or allocates (the static ranges of the flags are
// flag_ranges.h). Each refusal is a UsageError: exit 2, one line naming the flags.
#pragma once
#include <CLI/CLI.hpp>

#include "parallel/train_options.h"

namespace plait::cli {

// Adds --oversubscribe (more workers or BLAS threads than cores, to emulate a larger
// machine). One process runs one command, so the flag is the process's setting.
void add_oversubscribe_flag(CLI::App* cmd);

// Adds --allow-nonfinite: load checkpoints and weights holding NaN or infinity
// (refused by default: fault/finite.h).
void add_allow_nonfinite_flag(CLI::App* cmd);

// The most in-process workers (threads) a command starts: 4 per core, at least 64;
// with --oversubscribe what the process may start (thread_headroom()).
int worker_cap();

// --workers (+ --servers) within worker_cap, --blas-threads within the cores (64
// with --oversubscribe), and the run's memory (parallel/footprint.h) within what is
// available.
void check_train_machine(const TrainOptions& opt);

// Threads a command is about to start for `flag`.
void check_threads(int threads, const char* flag);

}  // namespace plait::cli
