#include "model/adamw.h"

#include <algorithm>
#include <cmath>

namespace plait {

float LrSchedule::at(int64_t step) const {
  if (step < warmup) return peak * static_cast<float>(step + 1) / static_cast<float>(warmup);
  const double span = std::max<int64_t>(1, total - warmup);
  const double progress = std::min(1.0, static_cast<double>(step - warmup) / span);
  const double cosine = 0.5 * (1.0 + std::cos(3.141592653589793 * progress));
  return static_cast<float>(peak * (min_ratio + (1.0 - min_ratio) * cosine));
}

double grad_norm(std::span<const float> grads) {
  double sum = 0;
  for (float g : grads) sum += static_cast<double>(g) * g;
  return std::sqrt(sum);
}

double clip_grad_norm(std::span<float> grads, double max_norm) {
  const double norm = grad_norm(grads);
  clip_to(grads, norm, max_norm);
  return norm;
}

void clip_to(std::span<float> grads, double norm, double max_norm) {
  if (max_norm <= 0) return;
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) {
    const float c = static_cast<float>(coef);
    for (float& g : grads) g *= c;
  }
}

AdamW::AdamW(const ParamTable& table, AdamWConfig cfg)
    : AdamW(table.specs(), table.total(), cfg) {}

AdamW::AdamW(std::span<const ParamSpec> specs, size_t total, AdamWConfig cfg)
    : AdamW(specs, cfg, 0, total) {}

AdamW::AdamW(std::span<const ParamSpec> specs, AdamWConfig cfg, size_t begin, size_t n)
    : m(n, 0.0f), v(n, 0.0f), cfg_(cfg), base_(begin) {
  for (const auto& s : specs)
    if (s.decay) decayed_.push_back({s.offset, s.offset + s.size});
  std::sort(decayed_.begin(), decayed_.end());
}

namespace {

// A copy of v[off, off+n) (assign from a vector's own range is not allowed).
template <class T>
void keep(std::vector<T>& v, size_t off, size_t n) {
  std::vector<T>(v.begin() + static_cast<std::ptrdiff_t>(off),
                 v.begin() + static_cast<std::ptrdiff_t>(off + n)).swap(v);
}

}  // namespace

void AdamW::keep_range(size_t begin, size_t n) {
  keep(m, begin - base_, n);
  keep(v, begin - base_, n);
  base_ = begin;
}

void AdamW::step(std::span<float> params, std::span<const float> grads, float lr, int64_t t) {
  step_range(params, grads, lr, t, 0, params.size());
}

void AdamW::step_range(std::span<float> params, std::span<const float> grads, float lr,
                       int64_t t, size_t begin, size_t n) {
  update(params.data() + begin, grads.data() + begin, lr, t, begin, n);
}

void AdamW::step_shard(std::span<float> params, std::span<const float> grads, float lr,
                       int64_t t) {
  update(params.data(), grads.data(), lr, t, base_, m.size());
}

// p, g: the range [begin, begin+n)'s first float.
void AdamW::update(float* p, const float* g, float lr, int64_t t, size_t begin, size_t n) {
  const float b1 = cfg_.beta1, b2 = cfg_.beta2, eps = cfg_.eps;
  // PyTorch: p *= 1 - lr*wd; p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
  const double bc1 = 1.0 - std::pow(static_cast<double>(b1), static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(static_cast<double>(b2), static_cast<double>(t));
  const float step_size = static_cast<float>(lr / bc1);
  const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  const float decay = 1.0f - lr * cfg_.weight_decay;
  float* mm = m.data() + (begin - base_);
  float* vv = v.data() + (begin - base_);
  // [i, j) of the range, local indices; weight decay on or off over all of it
  auto run = [&](size_t i, size_t j, bool decays) {
    for (; i < j; ++i) {
      mm[i] = b1 * mm[i] + (1.0f - b1) * g[i];
      vv[i] = b2 * vv[i] + (1.0f - b2) * g[i] * g[i];
      const float denom = std::sqrt(vv[i]) * inv_sqrt_bc2 + eps;
      const float pi = decays ? p[i] * decay : p[i];
      p[i] = pi - step_size * mm[i] / denom;
    }
  };
  size_t at = begin;  // arena offset: everything before it is updated
  for (const auto& [lo, hi] : decayed_) {
    if (hi <= at) continue;
    if (lo >= begin + n) break;
    const size_t a = std::max(lo, at), b = std::min(hi, begin + n);
    run(at - begin, a - begin, false);
    run(a - begin, b - begin, true);
    at = b;
  }
  run(at - begin, n, false);
}

}  // namespace plait
