// `plait simulate`: the predicted step time and memory of a `plait train` run on this
// machine. The step time comes from the local model of what the trainer does
// (local_run.h) on a measured machine profile (machine_profile.h); memory from the
// planner's memory model (memory_model.h) on the local machine as a cluster. The
// run's flags are those of `plait train`.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "plan/local_run.h"
#include "plan/machine_profile.h"
#include "plan/step_cost.h"

namespace plait::plan {

// The layout flags of `plait train`; 0 means "not given".
struct RunFlags {
  int workers = 0, dp = 0, tp = 0, pp = 0;
  int micro_batch = 0;    // --micro-batch: sequences per forward/backward on a worker
  int micro_batches = 0;  // --micro-batches: M per step
  PipeSchedule schedule = PipeSchedule::one_f_one_b;
  std::optional<SyncAlgorithm> sync;  // none: train's choice by size
  int servers = 0;        // --servers K: dedicated parameter-server ranks
  std::vector<int> stages;  // --stages: blocks per pipeline stage
  Recompute recompute = Recompute::none;  // --recompute (block: Recompute::full)
  int zero = 0;             // --zero: ZeRO stage of the data-parallel axis
  double bucket_mb = 4;     // --bucket-mb (ZeRO-2/3's page pools follow it)
  std::vector<std::pair<int, double>> slowdowns;  // --slowdown RANK:FACTOR (at step 0)
};

// The layout a run with these flags uses, checked as the trainer checks it: dp·tp·pp =
// workers (dp defaults to workers / (tp·pp)), tp divides the heads, pp <= layers, at
// least one sequence per data-parallel rank, M <= its share. The busiest data-parallel
// rank takes ceil(batch / dp) sequences in M micro-batches of ceil(share / M).
// --sync mpi (MPI_Allreduce, whose algorithm OpenMPI picks) is costed as ring; no
// --sync is the trainer's choice by size (2 workers: direct, nodes: hierarchical,
// else ring). With --servers K the workers are --workers (dp = workers, no mesh).
// Throws UsageError naming the flag.
Layout layout_from_flags(const ModelSpec& m, const RunFlags& f);

// The run `plait train` would make with these flags: layout, stages, BLAS threads
// (0: cores / workers, as train), emulated nodes and links.
LocalRun local_run_from_flags(const ModelSpec& m, const RunFlags& f, int blas_threads, int cores,
                              int ranks_per_node, const std::optional<LinkSpec>& intra,
                              const std::optional<LinkSpec>& inter);

struct Simulation {
  ModelSpec model;
  Layout layout;
  LocalRun run;
  ClusterSpec machine;    // the local machine as a cluster (memory, the rates shown)
  StepCost cost;          // memory; its times are the local prediction's (below)
  LocalPrediction local;  // the step time
  long long steps = 0;
  std::vector<std::string> notes;  // assumptions that apply to this run
  // A pipeline: the fastest --stages by the local model among every partition (when
  // there are at most kMaxStageSearch), and its step; empty when not searched.
  std::vector<int> best_stages;
  double best_step_s = 0;
};

inline constexpr long long kMaxStageSearch = 2000;

Simulation simulate(const LocalRun& run, const MachineProfile& profile, long long steps);

std::string simulate_text(const Simulation& s);
nlohmann::json simulate_json(const Simulation& s);

}  // namespace plait::plan
