// `plait simulate`: the predicted step time and memory of a `plait train` run on this
// machine, from the cost model (step_cost.h) on the local cluster a machine profile
// describes (machine_profile.h). The run's flags are those of `plait train`.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "plan/machine_profile.h"
#include "plan/step_cost.h"

namespace plait::plan {

// The layout flags of `plait train`; 0 means "not given".
struct RunFlags {
  int workers = 0, dp = 0, tp = 0, pp = 0;
  int micro_batch = 0;    // --micro-batch: sequences per forward/backward on a worker
  int micro_batches = 0;  // --micro-batches: M per step
  std::string schedule = "1f1b";
  std::string sync = "ring";
  int servers = 1;
};

// The layout a run with these flags uses, checked as the trainer checks it: dp·tp·pp =
// workers (dp defaults to workers / (tp·pp)), tp divides the heads, pp <= layers, at
// least one sequence per data-parallel rank, M <= its share. The busiest data-parallel
// rank takes ceil(batch / dp) sequences in M micro-batches of ceil(share / M).
// --sync mpi (MPI_Allreduce, whose algorithm OpenMPI picks) is costed as ring.
// Throws UsageError naming the flag.
Layout layout_from_flags(const ModelSpec& m, const RunFlags& f);

struct Simulation {
  ModelSpec model;
  Layout layout;
  ClusterSpec machine;
  StepCost cost;
  long long steps = 0;
  std::vector<std::string> notes;  // assumptions that apply to this run
};

Simulation simulate(const ModelSpec& m, const Layout& l, const ClusterSpec& machine,
                    long long steps, const StepOptions& opt, const MachineProfile& profile);

std::string simulate_text(const Simulation& s);
nlohmann::json simulate_json(const Simulation& s);

}  // namespace plait::plan
