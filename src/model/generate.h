// Autoregressive sampling from a trained GPT: temperature and top-k, reproducible
// from a seed. The context is the last `ctx` tokens (a sliding window).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/gpt.h"

namespace plait {

struct SampleOptions {
  int tokens = 200;          // new tokens to generate
  float temperature = 0.8f;  // 0 = greedy (argmax)
  int top_k = 0;             // 0 = the whole vocabulary
  uint64_t seed = 42;
};

// Returns the generated tokens (not including the prompt). `on_token` (optional) sees
// each new token as it is produced, so a CLI can stream the text.
std::vector<int32_t> generate(GPT& model, const std::vector<int32_t>& prompt,
                              const SampleOptions& opt,
                              const std::function<void(int32_t)>& on_token = {});

// Picks a token from logits[V] (exposed for tests).
int32_t sample_token(const float* logits, int V, float temperature, int top_k, double u);

}  // namespace plait
