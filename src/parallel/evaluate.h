// Mean cross-entropy of a model over evaluation windows (data/eval_windows.h):
// nats per byte over every scored target, windows taken in order in batches.
#pragma once
#include <cstdint>

#include "data/eval_windows.h"
#include "model/gpt.h"

namespace plait {

struct EvalResult {
  double loss = 0;     // mean nats per token (byte)
  int64_t tokens = 0;  // targets scored
  int64_t windows = 0;
};

// Evaluates windows [0, min(max_windows, w.count())) (max_windows 0 = all), `batch`
// windows per forward pass. The sum runs in double in window order: deterministic.
EvalResult evaluate(GPT& model, const data::EvalWindows& w, int batch, int64_t max_windows = 0);

}  // namespace plait
