// The measurement behind `plait bench train`: full training steps (zero grads,
// forward, backward, clip, AdamW) of a model on random bytes, timed step by step.
// (Its FLOPs are the planner's count, plan/flops.h, applied by the command.)
#pragma once
#include <cstdint>
#include <vector>

#include "model/config.h"
#include "util/stats.h"  // median

namespace plait {

struct TrainBenchOptions {
  GPTConfig model{256, 128, 4, 256, 4};
  int batch = 16;
  int warmup = 2;
  int steps = 8;
  uint64_t seed = 1;
};

struct TrainBenchResult {
  std::vector<double> step_s;      // each timed step
  double median_step_s = 0;
  double tokens_per_s = 0;
  size_t params = 0;
  size_t activation_floats = 0;    // activations and scratch held by the model
  double needed_bytes = 0;         // 4 x (4 x params + activation floats)
  double loss = 0;
};

TrainBenchResult bench_train_steps(const TrainBenchOptions& opt);

}  // namespace plait
