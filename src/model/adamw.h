// AdamW over the parameter arena (PyTorch's torch.optim.AdamW formula), with
// global gradient-norm clipping and a linear warm-up then cosine-decay schedule.
// The moments m and v are arenas with the parameter table's layout.
#pragma once
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "model/params.h"

namespace plait {

struct AdamWConfig {
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.1f;  // on tensors with ParamSpec::decay (matrices) only
  float clip_norm = 1.0f;     // 0 disables clipping
};

// Learning rate at a 0-based step: linear warm-up over `warmup` steps to `peak`, then
// cosine decay to `min_ratio * peak` at step `total`.
struct LrSchedule {
  float peak = 1e-3f;
  int warmup = 0;
  int total = 1;
  float min_ratio = 0.1f;
  float at(int64_t step) const;
};

// Global L2 norm of a gradient arena (accumulated in double, fixed order).
double grad_norm(std::span<const float> grads);
// Scales grads so their norm is at most max_norm (PyTorch's clip_grad_norm_ rule:
// coefficient max_norm / (norm + 1e-6), applied only when below 1). Returns the norm.
double clip_grad_norm(std::span<float> grads, double max_norm);
// The same scaling for a norm computed elsewhere (a sharded model's global norm).
void clip_to(std::span<float> grads, double norm, double max_norm);

class AdamW {
 public:
  AdamW(const ParamTable& table, AdamWConfig cfg);
  // Over any arena layout (a model-parallel rank's ShardTable::param_specs()).
  AdamW(std::span<const ParamSpec> specs, size_t total, AdamWConfig cfg);
  // Only the range [begin, begin+n) of that arena (a parameter server's shard): m and v
  // hold the range, as after keep_range; nothing arena-sized is allocated.
  AdamW(std::span<const ParamSpec> specs, AdamWConfig cfg, size_t begin, size_t n);
  // One update with learning rate lr; `t` is the 1-based step count for bias correction.
  void step(std::span<float> params, std::span<const float> grads, float lr, int64_t t);
  // The same update on a contiguous sub-range [begin, begin+n) of the arena (used by
  // sharded optimizers: a parameter server or ZeRO-style owner of one shard).
  void step_range(std::span<float> params, std::span<const float> grads, float lr, int64_t t,
                  size_t begin, size_t n);

  // The update of the kept range [base(), base() + m.size()) from buffers that hold
  // only that range (params[i], grads[i] are the arena's base() + i).
  void step_shard(std::span<float> params, std::span<const float> grads, float lr, int64_t t);

  // ZeRO (parallel/zero.h): keeps the moments of [begin, begin+n) only; m and v then
  // hold that range, and step_range may only be called within it.
  void keep_range(size_t begin, size_t n);
  size_t base() const { return base_; }  // the arena offset of m[0] and v[0]

  std::vector<float> m, v;  // first and second moments, arena layout from base()
  const AdamWConfig& config() const { return cfg_; }
  // Bytes held: m and v.
  size_t state_bytes() const { return sizeof(float) * (m.size() + v.size()); }

 private:
  AdamWConfig cfg_;
  size_t base_ = 0;
  // Arena ranges [begin, end) of the tensors with weight decay, sorted (no per-float
  // mask: the optimizer state is m and v only, 8 bytes per parameter).
  std::vector<std::pair<size_t, size_t>> decayed_;
  void update(float* p, const float* g, float lr, int64_t t, size_t begin, size_t n);
};

}  // namespace plait
