#include "parallel/evaluate.h"

#include <algorithm>
#include <vector>

#include "fault/heartbeat.h"

namespace plait {

EvalResult evaluate(GPT& model, const data::EvalWindows& w, int batch, int64_t max_windows) {
  const int T = w.ctx();
  int64_t n = w.count();
  if (max_windows > 0) n = std::min(n, max_windows);
  batch = std::max(1, batch);
  std::vector<int32_t> inputs(static_cast<size_t>(batch) * T), targets(inputs.size());
  double sum = 0;
  for (int64_t first = 0; first < n; first += batch) {
    const int b = static_cast<int>(std::min<int64_t>(batch, n - first));
    w.fill(first, b, inputs.data(), targets.data());
    model.forward(inputs.data(), targets.data(), b, T);
    for (float l : model.token_losses()) sum += l;  // exactly b*T entries
    fault::Heartbeats::progress();
  }
  EvalResult r;
  r.windows = n;
  r.tokens = n * T;
  r.loss = r.tokens > 0 ? sum / static_cast<double>(r.tokens) : 0.0;
  return r;
}

}  // namespace plait
