// Launching a run's ranks, in ONE place: as threads of this process (the threads
// transport) or as this process's rank of an MPI job (`mpirun -np N plait train
// --backend mpi`). Each process loads the corpus once (worker ranks only) and owns one
// RunOutput; only rank 0's shows progress and writes the metrics log; with --trace
// under MPI every rank writes obs::rank_trace_path(path, rank).
#pragma once
#include <functional>

#include "comm/comm.h"
#include "parallel/replica.h"
#include "parallel/run_output.h"
#include "parallel/train_options.h"
#include "parallel/train_summary.h"

namespace plait {

// One rank's whole run. `data` is null on parameter-server ranks under MPI (they
// never read the corpus). Returns the summary (rank 0's counts).
using RankRun = std::function<TrainSummary(comm::Comm& c, const TrainOptions& opt,
                                           const RunData* data, RunOutput& out)>;

// opt.workers + opt.servers threads.
TrainSummary launch_threads(const TrainOptions& opt, const RankRun& run);
// This process's rank of an MPI job; the world size is mpirun's.
TrainSummary launch_mpi(const TrainOptions& opt, const RankRun& run);

// The threads transport of opt's run: opt.workers + opt.servers ranks, emulated nodes
// and links, and a timeout long enough for rank 0's evaluations and checkpoints.
comm::ThreadsOptions threads_options(const TrainOptions& opt);

// This rank's options under MPI: the workers are mpirun's ranks (less the servers),
// checked against the layout; only rank 0 shows progress and writes the metrics log;
// every rank writes its own trace file. UsageError naming the flag that does not fit.
TrainOptions rank_options(const TrainOptions& opt, comm::Comm& c);

}  // namespace plait
