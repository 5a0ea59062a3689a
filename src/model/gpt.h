// The GPT: ONE model class for every worker (Megatron's GPTModel(pre_process,
// post_process)). It holds a contiguous range of blocks [layer_begin, layer_end), split
// `tp` ways (model/block.h's TensorSplit), plus the token and position embeddings on
// the first stage and the final LayerNorm, the LM head (tied to wte) and the softmax
// cross-entropy on the last. A single worker is the one-stage case with tensor split 1,
// `GPT(cfg)`: its arenas are laid out by ParamTable.
//
// Data flow of micro-batch m (N = B*T rows, C channels, Vp padded vocabulary):
//   forward   first stage: tokens [B,T] -> encoder (wte, wpe) -> x [N,C]
//             else x [N,C] from stage s-1
//             x -> this stage's blocks -> out [N,C]  (output(m): sent to stage s+1)
//             last stage: out -> ln_f -> head (wte^T) -> logits [N,Vp] -> loss
//   backward  last stage: from the loss;  else d(out) [N,C] from stage s+1
//             -> blocks in reverse -> d(x) [N,C] (returned: sent to stage s-1)
//             first stage: d(x) -> encoder backward into wte, wpe
//
// Loss convention (docs/ARCHITECTURE.md, "One training step", steps 2-4): a sequence's
// loss is the mean over its T tokens; backward ACCUMULATES the gradient of the SUM of
// the sequences' losses, so gradients from any split of a global batch into workers,
// micro-batches and stages add up exactly. The trainer divides the summed gradient by
// the global batch size once.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <utility>
#include <vector>

#include "model/block.h"
#include "model/params.h"
#include "model/shard_table.h"
#include "model/stage_activations.h"

namespace plait {

// ZeRO-3 (parallel/zero.h): told before a pass uses a range [begin, end) of the
// parameter arena and after it is done with it; the range's floats are valid only in
// between (acquire may be collective: every rank of a data-parallel group acquires
// the same ranges in the same order, as their passes are the same).
// prefetch(next) tells it, right after a unit's acquire, the ranges the pass will
// acquire next (in that order), so that it may gather them while the current unit
// computes; every rank of the group sends the same hints too.
class ParamGate {
 public:
  virtual ~ParamGate() = default;
  virtual void acquire(size_t begin, size_t end) = 0;
  virtual void release(size_t begin, size_t end) = 0;
  virtual void prefetch(std::span<const std::pair<size_t, size_t>> next) { (void)next; }
};

class GPT {
 public:
  // The whole model: one stage, tensor split 1.
  explicit GPT(const GPTConfig& cfg);
  // One rank's stage of a tensor- and pipeline-parallel layout; `split` closes the
  // tensor-parallel partial sums (unused when layout.tp == 1).
  GPT(const GPTConfig& cfg, const ShardLayout& layout, TensorSplit split = {});

  const GPTConfig& config() const { return shards_.config(); }
  const ShardLayout& layout() const { return shards_.layout(); }
  // This rank's arena layout (every layout; the whole model's is ParamTable's).
  const ShardTable& shards() const { return shards_; }
  bool whole() const;  // one stage, tensor split 1
  // The whole model's table, which lays out params and grads; whole() models only.
  const ParamTable& table() const;

  std::vector<float> params;  // [shards().total()]
  std::vector<float> grads;   // same layout

  // GPT-2 initialisation from `seed`: weights N(0, 0.02), residual projections
  // (c_proj.weight) N(0, 0.02/sqrt(2L)), biases 0, LayerNorm weights 1. A stage draws
  // the whole model's stream and keeps its slices, so every layout starts identical.
  void init_weights(uint64_t seed);
  void zero_grads();

  // What each block keeps for the backward pass (model/recompute.h; default none). Set
  // it before the first forward: it drops the kept slots (none may be in flight).
  void set_recompute(Recompute r);
  Recompute recompute() const { return recompute_; }

  // ---- one micro-batch at a time, in the order a pipeline schedule says ----
  // Forward of micro-batch `micro` (B sequences of T <= ctx tokens). First stage:
  // `tokens` [B,T]; other stages: `x` [N,C] from the previous stage. Last stage: with
  // `targets` [B,T] returns the SUM of the N token losses, without them computes only
  // the logits (inference); otherwise returns 0 and output(micro) holds [N,C].
  double forward(int micro, int B, int T, const int32_t* tokens, const float* x,
                 const int32_t* targets);
  const float* output(int micro) const;
  // Backward of `micro` (on the last stage its forward had targets): `dout` = d(output)
  // [N,C] from the next stage (nullptr on the last stage). Accumulates parameter
  // gradients and frees the slot. Returns d(x) [N,C] for the previous stage (valid
  // until the next call), or nullptr on the first stage.
  // `on_ready(offset)`, if given, is called as the pass goes: every gradient at arena
  // offsets >= offset is then final for this pass (the arena is laid out in forward
  // order, so the ready region grows from the end: ln_f and the head, block end-1, ...,
  // the first block, and finally 0 once the embeddings are done: wte is also the head).
  const float* backward(int micro, const float* dout,
                        const std::function<void(size_t)>& on_ready = {});
  void release(int micro);  // frees a slot without a backward pass (evaluation)
  int in_flight() const { return slots_.in_flight(); }
  int peak_in_flight() const { return slots_.peak(); }  // since construction or reset_peak()
  void reset_peak() { slots_.reset_peak(); }
  // Floats of activations one in-flight micro-batch of B x T keeps on this stage.
  size_t slot_floats(int B, int T) const;

  // ---- a single-stage model, one batch at a time (micro-batch 0) ----
  // tokens, targets: [B,T] with T <= ctx. targets may be nullptr (inference).
  // Returns the mean loss over the B*T tokens (0 without targets).
  float forward(const int32_t* tokens, const int32_t* targets, int B, int T);
  // Accumulates d(sum over sequences of the sequence's mean loss) into grads; needs
  // the preceding forward() to have had targets. on_ready: as above.
  void backward(const std::function<void(size_t)>& on_ready = {});
  // After the last stage's forward: logits of sequence b at position t, [Vp] (only
  // [0, V) are ids); the token losses [B*T] when it had targets.
  const float* logits(int b, int t) const;
  std::span<const float> token_losses() const { return {losses_.data(), last_n_}; }

  // Floats held for activations and scratch (every slot kept, the scratch buffers).
  size_t activation_floats() const;
  // ... of which in the slots (every slot kept: the peak of live micro-batches).
  size_t slot_floats_held() const { return slots_.floats(); }

  // ZeRO-3: the passes acquire each unit's parameters from `gate` just before using
  // them and release them after: the embeddings, each block, the final norm with the
  // head (wte), in the forward pass and again in the backward pass (nullptr: none).
  // Once a unit is acquired, the pass hints the next unit of the same pass (forward:
  // embeddings, blocks b..e-1, head; backward: head, blocks e-1..b); the first unit of
  // each pass has no hint.
  void set_param_gate(ParamGate* gate) { gate_ = gate; }

 private:
  StageShape stage_shape() const;
  void ensure_scratch(int B, int T);
  void check_batch(int B, int T) const;
  double head_forward(StageActivations& a, const float* out, const int32_t* targets);
  void head_backward(StageActivations& a, const float* out);
  void block_forward_kept(BlockActivations& kept, const float* x, const BlockShape& sh, int l);
  void block_backward_kept(BlockActivations& kept, const float* x, const BlockShape& sh, int l);

  ParamGate* gate_ = nullptr;
  ParamTable table_;  // the whole model's (built first: it validates the config)
  ShardTable shards_;
  TensorSplit split_;
  ActivationSlots slots_;
  BlockScratch scratch_;
  Recompute recompute_ = Recompute::none;
  BlockActivations redo_;  // what recomputation computes again, one block at a time
  BlockShape scratch_shape_{};
  std::vector<float> logits_;            // [N,Vp] (reused as dlogits in backward)
  std::vector<float> losses_, dlosses_;  // [N]
  std::vector<float> dres_;              // [N,C] gradient of the residual stream
  size_t last_n_ = 0;                    // N and T of the last head forward
  int last_t_ = 0;
};

}  // namespace plait
