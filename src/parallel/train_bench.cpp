#include "parallel/train_bench.h"

#include <algorithm>
#include <chrono>

#include "model/adamw.h"
#include "model/gpt.h"
#include "util/rng.h"

namespace plait {

TrainBenchResult bench_train_steps(const TrainBenchOptions& opt) {
  GPT model(opt.model);
  model.init_weights(opt.seed);
  AdamW adam(model.table(), AdamWConfig{});
  const int B = opt.batch, T = opt.model.ctx;
  std::vector<int32_t> x(static_cast<size_t>(B) * T), y(x.size());
  Rng rng(opt.seed);
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = static_cast<int32_t>(rng.next_u64() % opt.model.vocab);
    y[i] = static_cast<int32_t>(rng.next_u64() % opt.model.vocab);
  }
  TrainBenchResult r;
  for (int i = 0; i < opt.warmup + opt.steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    model.zero_grads();
    r.loss = model.forward(x.data(), y.data(), B, T);
    model.backward();
    for (float& g : model.grads) g *= 1.0f / static_cast<float>(B);
    clip_grad_norm(model.grads, 1.0);
    adam.step(model.params, model.grads, 3e-4f, i + 1);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (i >= opt.warmup) r.step_s.push_back(s);
  }
  r.median_step_s = median(r.step_s);
  const double tokens = static_cast<double>(B) * T;
  r.tokens_per_s = tokens / r.median_step_s;
  r.params = model.table().total();
  r.activation_floats = model.activation_floats();
  r.needed_bytes = 4.0 * (4.0 * static_cast<double>(r.params) + r.activation_floats);
  return r;
}

}  // namespace plait
