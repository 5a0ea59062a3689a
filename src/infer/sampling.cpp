#include "infer/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "util/error.h"

namespace plait::infer {

void SamplingParams::validate(const std::string& prefix) const {
  auto bad = [&](const std::string& name, const std::string& why) {
    throw UsageError(prefix + name + " " + why);
  };
  const std::string dash = prefix == "--" ? "-" : "_";
  if (!std::isfinite(temperature) || temperature < 0)
    bad("temperature", "must be a finite number >= 0 (0: greedy)");
  if (top_k < 0) bad("top" + dash + "k", "must not be negative (0: all)");
  if (!std::isfinite(top_p) || top_p <= 0 || top_p > 1)
    bad("top" + dash + "p", "must be in (0, 1]");
  if (!std::isfinite(repetition_penalty) || repetition_penalty <= 0)
    bad("repetition" + dash + "penalty", "must be a finite number > 0 (1: off)");
}

namespace {

// scratch[0, V) <- logits with the repetition penalty applied.
void penalised(std::vector<float>& s, std::span<const float> logits, int V, float penalty,
               std::span<const int32_t> history) {
  s.assign(logits.begin(), logits.begin() + V);
  if (penalty == 1.0f) return;
  std::vector<char> seen(V, 0);
  for (int32_t t : history) {
    if (t < 0 || t >= V || seen[t]++) continue;
    s[t] = s[t] > 0 ? s[t] / penalty : s[t] * penalty;
  }
}

}  // namespace

int32_t pick_token(std::span<const float> logits, int V, const SamplingParams& p,
                   std::span<const int32_t> history, Rng& rng, std::vector<float>& s) {
  penalised(s, logits, V, p.repetition_penalty, history);
  if (p.temperature <= 0.0f)
    return static_cast<int32_t>(std::max_element(s.begin(), s.end()) - s.begin());
  const double u = rng.uniform();
  if (p.top_k == 0 && p.top_p >= 1.0f) {  // the whole vocabulary, in id order: O(V)
    const double maxv = *std::max_element(s.begin(), s.end());
    double sum = 0;
    for (int i = 0; i < V; ++i) sum += std::exp((s[i] - maxv) / p.temperature);
    double acc = 0;
    const double target = u * sum;
    for (int i = 0; i < V; ++i) {
      acc += std::exp((s[i] - maxv) / p.temperature);
      if (target < acc) return i;
    }
    return V - 1;
  }
  // Candidates in order of decreasing logit, ties by increasing id (a total order, so
  // the partial sort is deterministic).
  int keep = (p.top_k > 0 && p.top_k < V) ? p.top_k : V;
  std::vector<int> idx(V);
  std::iota(idx.begin(), idx.end(), 0);
  auto before = [&](int a, int b) { return s[a] > s[b] || (s[a] == s[b] && a < b); };
  std::partial_sort(idx.begin(), idx.begin() + keep, idx.end(), before);
  const double maxv = s[idx[0]];
  std::vector<double> w(keep);
  double sum = 0;
  for (int i = 0; i < keep; ++i) sum += w[i] = std::exp((s[idx[i]] - maxv) / p.temperature);
  if (p.top_p < 1.0f) {  // the shortest prefix holding top_p of the probability
    double acc = 0;
    for (int i = 0; i < keep; ++i) {
      acc += w[i];
      if (acc >= p.top_p * sum) {
        keep = i + 1;
        sum = acc;
        break;
      }
    }
  }
  double acc = 0;
  const double target = u * sum;
  for (int i = 0; i < keep; ++i) {
    acc += w[i];
    if (target < acc) return idx[i];
  }
  return idx[keep - 1];
}

}  // namespace plait::infer
