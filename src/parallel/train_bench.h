// The measurement behind `plait bench train`: full training steps (zero grads,
// forward, backward, clip, AdamW) of a model on random bytes, timed step by step.
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
  double flops_per_step = 0;       // model FLOPs (train_flops_per_token x tokens)
  double gflops = 0;               // achieved: flops_per_step / median_step_s
  size_t params = 0;
  size_t activation_floats = 0;    // activations and scratch held by the model
  double needed_bytes = 0;         // 4 x (4 x params + activation floats)
  double loss = 0;
};

// FLOPs of one training step per token, PaLM's count: 6 per weight used in a matrix
// product (wpe is a lookup, excluded; the tied LM head counts) plus attention's
// 12 x layers x dim x ctx (QK^T and att.V, forward and backward, no causal saving).
double train_flops_per_token(const GPTConfig& c);

TrainBenchResult bench_train_steps(const TrainBenchOptions& opt);

}  // namespace plait
