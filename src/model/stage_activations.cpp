#include "model/stage_activations.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace plait {

size_t StageActivations::floats() const {
  size_t n = x.size() + tokens.size() + targets.size() + lnf.size() + lnf_mean.size() +
             lnf_rstd.size() + probs.size();
  for (const auto& b : blocks) n += b.floats();
  return n;
}

void resize(StageActivations& a, const StageShape& s, int B, int T) {
  const size_t N = static_cast<size_t>(B) * T;
  a.B = B, a.T = T;
  a.has_targets = false;
  a.x.resize(N * s.C);
  if (s.first) a.tokens.resize(N);
  a.blocks.resize(s.blocks);
  for (auto& b : a.blocks) b.resize(s.block(B, T), s.recompute);
  if (s.last) {
    a.targets.resize(N);
    a.lnf.resize(N * s.C);
    a.lnf_mean.resize(N);
    a.lnf_rstd.resize(N);
    a.probs.resize(N * s.Vp);
  }
}

StageActivations& ActivationSlots::open(int micro, const StageShape& s, int B, int T) {
  if (live_.count(micro))
    throw std::logic_error("model stage: micro-batch " + std::to_string(micro) +
                           " is already in flight");
  StageActivations a;
  // a kept slot of the same shape as it is; else any kept slot, resized; else a new one
  auto same = std::find_if(free_.begin(), free_.end(),
                           [&](const StageActivations& f) { return f.B == B && f.T == T; });
  if (same == free_.end() && !free_.empty()) same = free_.end() - 1;
  if (same != free_.end()) {
    a = std::move(*same);
    free_.erase(same);
  }
  if (a.B != B || a.T != T) resize(a, s, B, T);
  a.has_targets = false;
  StageActivations& slot = live_.emplace(micro, std::move(a)).first->second;
  peak_ = std::max(peak_, in_flight());
  return slot;
}

StageActivations* ActivationSlots::find(int micro) {
  auto it = live_.find(micro);
  return it == live_.end() ? nullptr : &it->second;
}

const StageActivations* ActivationSlots::find(int micro) const {
  auto it = live_.find(micro);
  return it == live_.end() ? nullptr : &it->second;
}

void ActivationSlots::release(int micro) {
  auto it = live_.find(micro);
  if (it == live_.end()) return;
  free_.push_back(std::move(it->second));
  live_.erase(it);
}

size_t ActivationSlots::floats() const {
  size_t n = 0;
  for (const auto& [m, a] : live_) n += a.floats();
  for (const auto& a : free_) n += a.floats();
  return n;
}

}  // namespace plait
