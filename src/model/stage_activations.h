// What a model stage (model/gpt.h) keeps between the forward and the backward pass of
// one micro-batch, and the pool of them that a pipeline schedule fills and drains.
//
// A single worker has one micro-batch in flight at a time (slot 0); a pipeline stage
// has up to the schedule's peak (GPipe: every micro-batch; 1F1B: at most the stages
// after it + 1). A released slot is kept and reused by the next micro-batch, resized if
// its shape differs, so a stage holds at most peak_in_flight() slots.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "model/block.h"

namespace plait {

// One micro-batch of B sequences of T tokens (N = B*T rows, C channels, Vp padded vocab).
struct StageActivations {
  int B = 0, T = 0;
  bool has_targets = false;              // the last stage's forward computed the loss
  std::vector<float> x;                  // [N,C] the stage's input (first: the embedding)
  std::vector<int32_t> tokens;           // [N] first stage
  std::vector<int32_t> targets;          // [N] last stage
  std::vector<BlockActivations> blocks;  // one per block of the stage
  std::vector<float> lnf;                // [N,C] last stage: ln_f output
  std::vector<float> lnf_mean, lnf_rstd; // [N]
  std::vector<float> probs;              // [N,Vp] softmax, 0 in the padding columns
  size_t floats() const;
};

// What one stage holds: which tensors a slot needs and their sizes.
struct StageShape {
  int C = 0, NH = 0, tp = 1, Vp = 0;  // channels, heads, tensor split, padded vocabulary
  int blocks = 0;                     // blocks of the stage
  bool first = false, last = false;   // holds the embedding / the head and loss
  Recompute recompute = Recompute::none;  // what each block keeps (model/recompute.h)
  BlockShape block(int B, int T) const { return {B, T, C, NH, tp}; }
};

// Sizes `a` for a micro-batch of B x T on a stage of shape `s`.
void resize(StageActivations& a, const StageShape& s, int B, int T);

// Micro-batch id -> its activations, from its forward to its backward (or release).
class ActivationSlots {
 public:
  // A slot for `micro` (which must not be in flight), sized for B x T.
  StageActivations& open(int micro, const StageShape& s, int B, int T);
  StageActivations* find(int micro);
  const StageActivations* find(int micro) const;
  void release(int micro);  // no-op when not in flight

  int in_flight() const { return static_cast<int>(live_.size()); }
  int peak() const { return peak_; }  // since construction or reset_peak()
  void reset_peak() { peak_ = in_flight(); }
  size_t floats() const;  // every slot held, in flight or kept for reuse

 private:
  std::map<int, StageActivations> live_;
  std::vector<StageActivations> free_;
  int peak_ = 0;
};

}  // namespace plait
