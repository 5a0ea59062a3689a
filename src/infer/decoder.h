// One forward pass of generation over many sequences at once, with a key/value cache.
//
// A step takes a list of feeds. Feed f puts its n_f new tokens at positions
// pos_f .. pos_f + n_f - 1 of its cache slot (positions before pos_f must hold the
// keys and values of the same sequence's earlier tokens, written by earlier steps).
// The new rows of all feeds are packed into one [N, C] matrix (N = sum of n_f), so
// every linear layer is ONE matrix product over the whole batch (that is what makes
// batching pay: the weights are read once per step, not once per sequence); only
// attention is per feed (each over its own cache). A feed of a whole prompt
// ("prefill") and a feed of one token ("decode") mix freely in one step.
//
// Output: the logits after each feed's LAST token, [F, Vp] (only [0, V) are ids):
// the head is applied to those F rows only.
//
// Numerics: every row goes through the same kernels as GPT::forward (layernorm,
// matmul, gelu, residual; attention over the cached rows instead of the full T x T
// product), so the logits equal those of a full recomputation up to float rounding
// (the products' shapes differ); greedy generation picks the same tokens
// (tests/infer/decoder_test.cpp).
//
// Model parallelism: a decoder may hold one rank's shard (model/shard_table.h) of a
// tensor- and pipeline-parallel layout, exactly as in training: blocks
// [layer_begin, layer_end) with NH/tp heads and 4C/tp hidden units, the row-parallel
// partial sums closed by split.allreduce (two per block per pass); its cache holds
// only its blocks and its heads' channels (C/tp). A first stage embeds tokens, a later
// stage takes the previous stage's rows x [N,C]; a last stage applies the head, a
// stage before it leaves its output rows in hidden(). infer/mesh_decoder.h moves the
// rows and feeds between ranks.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "infer/kv_cache.h"
#include "infer/step_model.h"
#include "model/block.h"
#include "model/config.h"
#include "model/shard_table.h"

namespace plait::infer {

class Decoder : public StepModel {
 public:
  // params: the whole model's arena (ParamTable(cfg)'s layout), read-only, borrowed.
  Decoder(const GPTConfig& cfg, std::span<const float> params, int slots);
  // One rank's shard: params laid out by `shards` (borrowed); `split` closes the
  // tensor-parallel partial sums (required when shards.layout().tp > 1).
  Decoder(const ShardTable& shards, std::span<const float> params, int slots,
          TensorSplit split);

  const GPTConfig& config() const override { return shards_.config(); }
  const ShardLayout& layout() const { return shards_.layout(); }
  int slots() const override { return cache_.slots(); }

  // Runs the feeds (distinct slots) through this rank's blocks; UsageError when a
  // feed does not fit. x: the previous stage's rows [N,C] (N = the feeds' tokens), or
  // nullptr on the first stage. head = false skips the head on a last stage (a
  // tensor-parallel rank whose logits nobody reads).
  void step(std::span<const Feed> feeds, const float* x = nullptr, bool head = true);
  // After step: the logits after feed f's last token, [Vp] (last stage).
  const float* logits(int f) const override;
  // After step on a stage before the last: the output rows [N,C].
  const float* hidden() const { return x_.data(); }

  // StepModel: one group; submit computes at once.
  void submit(int group, std::span<const Feed> feeds) override;
  int collect() override;

  // Floats held by the cache (memory report).
  size_t cache_floats() const { return cache_.floats(); }

 private:
  void check(std::span<const Feed> feeds) const;
  void resize(int N, int F, int max_keys);
  void block(int layer, std::span<const Feed> feeds, int N);
  void head(std::span<const Feed> feeds);

  ShardTable shards_;
  std::span<const float> params_;
  TensorSplit split_;
  KvCache cache_;
  int submitted_ = -1;  // the group of the pass not yet collected
  // scratch, sized for the largest step so far (N rows, F feeds)
  std::vector<float> x_, ln_, qkv_, atty_, proj_, resid_, fch_, gelu_;  // [N,*]
  std::vector<float> att_;                                              // [n_max, ctx]
  std::vector<float> last_, lnf_, lnf_mean_, lnf_rstd_, logits_;        // [F,*]
  std::vector<float> mean_, rstd_;                                      // [N]
};

}  // namespace plait::infer
