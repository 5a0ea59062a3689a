// Data parallelism (docs/DATA_PARALLEL.md): every rank a full replica (same
// initialisation seed), each training on its share of every global batch (equal, or
// proportional to --speeds); gradient sums are allreduced bucket by bucket by the
// chosen sync method, overlapping the backward pass, then divided by the global batch
// once. Every rank ends each step with bit-identical gradients, so the replicas stay
// equal; rank 0 logs, evaluates and checkpoints (the single-worker checkpoint format).
#pragma once
#include "comm/comm.h"
#include "layout/sync.h"
#include "parallel/replica.h"
#include "parallel/run_output.h"
#include "parallel/train_options.h"
#include "parallel/train_summary.h"

namespace plait {

// layout/sync.h's choose_sync for opt's --sync, `world` ranks on `nodes` nodes of
// equal size. The one-argument form: the threads layout of opt.
SyncChoice choose_sync(const TrainOptions& opt, int world, int nodes);
SyncChoice choose_sync(const TrainOptions& opt);

// Sequences of each global batch per worker: equal, or proportional to --speeds.
std::vector<int64_t> dp_shares(const TrainOptions& opt);
// The gradient bucket of --bucket-mb, in floats.
size_t bucket_floats(const TrainOptions& opt);

// One rank's whole run (threads or MPI: parallel/launch.h); `out` is rank 0's (its
// Trace is shared by every rank under threads: pid = rank, lanes compute and
// communication). Returns the summary (rank 0's counts).
TrainSummary run_dp_rank(comm::Comm& c, const TrainOptions& opt, const RunData& data,
                         RunOutput& out);

}  // namespace plait
