// The whole GPT: embedding, the ordered list of blocks, final LayerNorm, and the LM
// head tied to the token embedding, trained with softmax cross-entropy.
//
// Loss convention (docs/ARCHITECTURE.md, "One training step", steps 2-4): a sequence's loss is the mean over its T
// tokens; backward() ACCUMULATES the gradient of the SUM of the sequences' losses, so
// gradients from any split of a global batch add up exactly. The trainer divides the
// summed gradient by the global batch size once.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "model/block.h"
#include "model/params.h"

namespace plait {

// What the embedding and head save between forward and backward (N = B*T).
struct HeadActivations {
  std::vector<float> encoded;   // [N,C] token + position embedding
  std::vector<float> lnf;       // [N,C]
  std::vector<float> lnf_mean;  // [N]
  std::vector<float> lnf_rstd;  // [N]
  std::vector<float> logits;    // [N,Vp] (reused as dlogits in backward)
  std::vector<float> probs;     // [N,Vp], 0 in the padding columns
  std::vector<float> losses;    // [N]
  std::vector<float> dlosses;   // [N] = 1/T each
  std::vector<int32_t> targets; // [N]
  std::vector<int32_t> tokens;  // [N]
  void resize(size_t N, int C, int V);
  size_t floats() const;
};

class GPT {
 public:
  explicit GPT(const GPTConfig& cfg);

  const GPTConfig& config() const { return table_.config(); }
  const ParamTable& table() const { return table_; }

  std::vector<float> params;  // [table().total()]
  std::vector<float> grads;   // [table().total()], same layout

  // GPT-2 initialisation from `seed`: weights N(0, 0.02), residual projections
  // (c_proj.weight) N(0, 0.02/sqrt(2L)), biases 0, LayerNorm weights 1.
  void init_weights(uint64_t seed);
  void zero_grads();

  // tokens, targets: [B,T] with T <= ctx. targets may be nullptr (inference).
  // Returns the mean loss over the B*T tokens (0 without targets).
  float forward(const int32_t* tokens, const int32_t* targets, int B, int T);
  // Accumulates d(sum over sequences of the sequence's mean loss) into grads.
  // Requires the preceding forward() to have had targets.
  // `on_ready(offset)`, if given, is called as the pass goes: every gradient at arena
  // offsets >= offset is then final for this pass (the arena is laid out in forward
  // order, so the ready region grows from the end: ln_f, block L-1, ..., block 0, and
  // finally 0 once the embeddings are done — wte is also the LM head, so it is last).
  // Data parallelism uses it to reduce buckets while the backward pass goes on.
  void backward(const std::function<void(size_t)>& on_ready = {});

  // After forward: logits of sequence b at position t, [Vp] (only [0, V) are ids).
  const float* logits(int b, int t) const;
  const std::vector<float>& token_losses() const { return head_.losses; }

  // Floats held for activations and scratch at the current (B,T).
  size_t activation_floats() const;

 private:
  void ensure_shape(int B, int T);
  ParamTable table_;
  BlockShape shape_{};
  std::vector<BlockActivations> acts_;
  BlockScratch scratch_;
  HeadActivations head_;
  std::vector<float> dres_;  // [N,C] gradient of the residual stream
  bool have_targets_ = false;
};

}  // namespace plait
