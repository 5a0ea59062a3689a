// What the planner is asked and the knobs of its search.
#pragma once
#include <vector>

#include "plan/step_cost.h"

namespace plait::plan {

struct PlanOptions {
  int devices = 8;               // N available (--gpus)
  double tokens = 0;             // training tokens (--tokens)
  double memory_fraction = 0.9;  // of device memory a plan may use (the rest: runtime,
                                 // allocator fragmentation, communication buffers)
  double large_after_s = 86400;  // "large dataset": more than this on one device
  double max_bubble = 0.5;       // reject pipelines idle more than this
  double max_comm_share = 0.5;   // reject plans waiting on links more than this
  std::vector<int> micro_batch_sizes = {1, 2, 4, 8, 16, 32};
  StepOptions step;
};

}  // namespace plait::plan
