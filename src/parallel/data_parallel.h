// Data parallelism on in-process workers (docs/DATA_PARALLEL.md): `workers` threads,
// each a full replica (same initialisation seed), each training on its equal share of
// every global batch; gradient sums are allreduced bucket by bucket by the chosen sync
// method, overlapping the backward pass, then divided by the global batch once.
// Every rank ends each step with bit-identical gradients, so the replicas stay equal;
// rank 0 logs, evaluates and checkpoints (the single-worker checkpoint format).
#pragma once
#include <string>

#include "comm/collectives.h"
#include "parallel/replica.h"
#include "parallel/run_output.h"
#include "parallel/trainer.h"

namespace plait {

struct SyncChoice {
  comm::Algorithm algorithm = comm::Algorithm::ring;
  std::string why;  // one line for the log
};

// --sync if given, otherwise a choice by world size and nodes.
SyncChoice choose_sync(const TrainOptions& opt);

// The whole run on opt.workers threads; `out` is rank 0's output (its Trace is
// shared by every rank: pid = rank, lanes compute and communication).
TrainSummary train_data_parallel(const TrainOptions& opt, const RunData& data, RunOutput& out);

}  // namespace plait
