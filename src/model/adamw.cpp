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
    : m(total, 0.0f), v(total, 0.0f), cfg_(cfg), decay_(total, 0) {
  for (const auto& s : specs)
    if (s.decay) std::fill_n(decay_.begin() + s.offset, s.size, 1);
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
  keep(decay_, begin - base_, n);
  base_ = begin;
}

void AdamW::step(std::span<float> params, std::span<const float> grads, float lr, int64_t t) {
  step_range(params, grads, lr, t, 0, params.size());
}

void AdamW::step_range(std::span<float> params, std::span<const float> grads, float lr,
                       int64_t t, size_t begin, size_t n) {
  const float b1 = cfg_.beta1, b2 = cfg_.beta2, eps = cfg_.eps;
  // PyTorch: p *= 1 - lr*wd; p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
  const double bc1 = 1.0 - std::pow(static_cast<double>(b1), static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(static_cast<double>(b2), static_cast<double>(t));
  const float step_size = static_cast<float>(lr / bc1);
  const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  const float decay = 1.0f - lr * cfg_.weight_decay;
  float* p = params.data() + begin;
  const float* g = grads.data() + begin;
  float* mm = m.data() + (begin - base_);
  float* vv = v.data() + (begin - base_);
  const uint8_t* d = decay_.data() + (begin - base_);
  for (size_t i = 0; i < n; ++i) {
    mm[i] = b1 * mm[i] + (1.0f - b1) * g[i];
    vv[i] = b2 * vv[i] + (1.0f - b2) * g[i] * g[i];
    const float denom = std::sqrt(vv[i]) * inv_sqrt_bc2 + eps;
    const float pi = d[i] ? p[i] * decay : p[i];
    p[i] = pi - step_size * mm[i] / denom;
  }
}

}  // namespace plait
