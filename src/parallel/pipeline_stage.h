// One rank's part of a tensor- and pipeline-parallel model: the blocks of its stage
// (split tp ways, model/block.h's TensorSplit), plus the embeddings on the first stage
// and the final norm, head and loss on the last. It runs ONE micro-batch's forward or
// backward at a time, in whatever order the pipeline schedule says, and keeps each
// in-flight micro-batch's activations in a slot from its forward to its backward.
//
// Data flow of micro-batch m (N = B*T rows, C channels):
//   forward   first stage: tokens [B,T] -> encoder -> x;  else x [N,C] from stage s-1
//             x -> this stage's blocks -> out [N,C]  (output(m): sent to stage s+1)
//             last stage: out -> ln_f -> head (wte) -> softmax cross-entropy
//   backward  last stage: from the loss;  else d(out) [N,C] from stage s+1
//             -> blocks in reverse -> d(x) [N,C] (returned: sent to stage s-1)
//             first stage: d(x) -> encoder backward into wte, wpe
// Gradients ACCUMULATE (the sum over sequences of each sequence's mean loss, the
// single-worker convention of model/gpt.h), so any split into micro-batches and
// stages adds up to the same gradient.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "model/block.h"
#include "model/shard_table.h"

namespace plait {

class PipelineStage {
 public:
  // `split` closes the tensor-parallel partial sums (unused when layout.tp == 1).
  PipelineStage(const GPTConfig& cfg, const ShardLayout& layout, TensorSplit split = {});

  const ShardTable& table() const { return table_; }
  const ShardLayout& layout() const { return table_.layout(); }
  std::vector<float> params;  // [table().total()]
  std::vector<float> grads;   // same layout
  void zero_grads();

  // Forward of micro-batch `micro` (B sequences of T tokens). First stage: `tokens`
  // [B,T]; other stages: `x` [B*T, C] from the previous stage. Last stage with
  // `targets` [B,T]: returns the SUM of the B*T token losses; otherwise 0, and
  // output(micro) holds [B*T, C] for the next stage.
  double forward(int micro, int B, int T, const int32_t* tokens, const float* x,
                 const int32_t* targets);
  const float* output(int micro) const;
  // Backward of `micro` (its forward had targets if this is the last stage): `dout` =
  // d(output) [B*T, C] from the next stage (nullptr on the last stage). Accumulates
  // parameter gradients and frees the slot. Returns d(x) [B*T, C] for the previous
  // stage (valid until the next call), or nullptr on the first stage.
  const float* backward(int micro, const float* dout);
  // Frees a slot without a backward pass (evaluation).
  void release(int micro);

  int in_flight() const { return static_cast<int>(live_.size()); }
  int peak_in_flight() const { return peak_; }  // since construction or reset_peak()
  void reset_peak() { peak_ = in_flight(); }
  // Floats of activations one in-flight micro-batch of B x T keeps on this stage.
  size_t slot_floats(int B, int T) const;

 private:
  struct Slot {
    int B = 0, T = 0;
    std::vector<float> x;                  // [N,C] the stage's input
    std::vector<int32_t> tokens, targets;  // [N] (first / last stage)
    std::vector<BlockActivations> blocks;  // one per block of the stage
    std::vector<float> lnf, lnf_mean, lnf_rstd, probs;  // last stage: [N,C] [N] [N] [N,V]
    size_t floats() const;
  };
  Slot& open_slot(int micro, int B, int T);
  void ensure_scratch(int B, int T);
  double head_forward(Slot& s, const float* out, const int32_t* targets);
  void head_backward(Slot& s, const float* out);

  ShardTable table_;
  TensorSplit split_;
  std::map<int, Slot> live_;   // micro-batch -> its activations
  std::vector<Slot> free_;     // slots kept for reuse
  int peak_ = 0;
  BlockScratch scratch_;
  BlockShape scratch_shape_{};
  std::vector<float> logits_;  // [N,V] (reused as dlogits)
  std::vector<float> losses_, dlosses_;  // [N]
  std::vector<float> dres_;    // [N,C] gradient of the residual stream
};

}  // namespace plait
