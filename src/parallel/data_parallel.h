// Data parallelism on in-process workers (docs/DATA_PARALLEL.md): `workers` threads,
// each a full replica (same initialisation seed), each training on its equal share of
// every global batch; gradient sums are allreduced bucket by bucket by the chosen sync
// method, overlapping the backward pass, then divided by the global batch once.
// Every rank ends each step with bit-identical gradients, so the replicas stay equal;
// rank 0 logs, evaluates and checkpoints (the single-worker checkpoint format).
#pragma once
#include <string>

#include "comm/collectives.h"
#include "comm/comm.h"
#include "layout/sync.h"
#include "parallel/replica.h"
#include "parallel/run_output.h"
#include "parallel/trainer.h"

namespace plait {

// layout/sync.h's choose_sync for opt's --sync, `world` ranks on `nodes` nodes of
// equal size. The one-argument form: the threads layout of opt.
SyncChoice choose_sync(const TrainOptions& opt, int world, int nodes);
SyncChoice choose_sync(const TrainOptions& opt);

// The threads transport of opt's run: opt.workers ranks, emulated nodes and links, and
// a timeout long enough for rank 0's evaluations and checkpoints.
comm::ThreadsOptions threads_options(const TrainOptions& opt);

// Random bytes (from opt.seed), enough for benchmarks that ignore the text.
data::Corpus random_corpus(const TrainOptions& opt);

// The whole run on opt.workers threads; `out` is rank 0's output (its Trace is
// shared by every rank: pid = rank, lanes compute and communication).
TrainSummary train_data_parallel(const TrainOptions& opt, const RunData& data, RunOutput& out);

// The run as this process's rank of an MPI job (`mpirun -np N plait train --backend
// mpi`): one replica per process; rank 0 logs, evaluates and checkpoints (resume
// needs the checkpoint directory on a file system every rank sees); with --trace each
// rank writes obs::rank_trace_path(path, rank).
TrainSummary train_mpi(const TrainOptions& opt);

// The measurement behind `plait bench train --workers N`: `steps` timed training
// steps (after `warmup`) of opt's model on random bytes, on opt.workers workers
// (1: the single-worker step, no communication). opt.data, logging, evaluation and
// checkpoints are ignored.
struct DataParallelBench {
  std::string sync;             // the method used ("" for one worker)
  size_t buckets = 0;
  double median_step_s = 0;     // rank 0's
  double tokens_per_s = 0;      // global batch tokens / median step
  double comm_wait_share = 0;   // time the compute thread waited for gradients / step
                                // time, over the timed steps, mean over ranks
};
DataParallelBench bench_data_parallel(const TrainOptions& opt, int warmup, int steps);

}  // namespace plait
