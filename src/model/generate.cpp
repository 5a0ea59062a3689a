#include "model/generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "util/error.h"
#include "util/rng.h"

namespace plait {

int32_t sample_token(const float* logits, int V, float temperature, int top_k, double u) {
  if (temperature <= 0.0f)
    return static_cast<int32_t>(std::max_element(logits, logits + V) - logits);
  std::vector<int> idx(V);
  std::iota(idx.begin(), idx.end(), 0);
  int keep = (top_k > 0 && top_k < V) ? top_k : V;
  // stable, so ties keep the lower token id first and sampling is reproducible
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  const double maxv = logits[idx[0]];
  std::vector<double> p(keep);
  double sum = 0;
  for (int i = 0; i < keep; ++i) sum += p[i] = std::exp((logits[idx[i]] - maxv) / temperature);
  double acc = 0, target = u * sum;
  for (int i = 0; i < keep; ++i) {
    acc += p[i];
    if (target < acc) return idx[i];
  }
  return idx[keep - 1];
}

std::vector<int32_t> generate(GPT& model, const std::vector<int32_t>& prompt,
                              const SampleOptions& opt,
                              const std::function<void(int32_t)>& on_token) {
  const auto& c = model.config();
  if (opt.tokens < 0) throw UsageError("--tokens must not be negative");
  std::vector<int32_t> ctx = prompt;
  if (ctx.empty()) ctx.push_back('\n');  // an empty prompt starts a new line
  for (int32_t t : ctx)
    if (t < 0 || t >= c.vocab) throw UsageError("prompt token out of the vocabulary");
  Rng rng(opt.seed);
  std::vector<int32_t> out;
  for (int i = 0; i < opt.tokens; ++i) {
    const int T = std::min<int>(static_cast<int>(ctx.size()), c.ctx);
    const int32_t* window = ctx.data() + ctx.size() - T;
    model.forward(window, nullptr, 1, T);
    int32_t next = sample_token(model.logits(0, T - 1), c.vocab, opt.temperature, opt.top_k,
                                rng.uniform());
    ctx.push_back(next);
    out.push_back(next);
    if (on_token) on_token(next);
  }
  return out;
}

}  // namespace plait
