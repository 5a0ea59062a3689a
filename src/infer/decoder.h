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
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "infer/kv_cache.h"
#include "model/config.h"
#include "model/params.h"

namespace plait::infer {

struct Feed {
  int slot = 0;                      // cache slot of the sequence
  std::span<const int32_t> tokens;   // the new tokens, n >= 1, ids in [0, V)
  int pos = 0;                       // position of tokens[0]; pos + n <= ctx
};

class Decoder {
 public:
  // params: the model's arena (ParamTable(cfg)'s layout), read-only, borrowed.
  Decoder(const GPTConfig& cfg, std::span<const float> params, int slots);

  const GPTConfig& config() const { return table_.config(); }
  int slots() const { return cache_.slots(); }

  // Runs the feeds (distinct slots); UsageError when a feed does not fit.
  void step(std::span<const Feed> feeds);
  // After step: the logits after feed f's last token, [Vp].
  const float* logits(int f) const;

  // Floats held by the cache (memory report).
  size_t cache_floats() const { return cache_.floats(); }

 private:
  void check(std::span<const Feed> feeds) const;
  void resize(int N, int F, int max_keys);
  void block(int layer, std::span<const Feed> feeds, int N);

  ParamTable table_;
  std::span<const float> params_;
  KvCache cache_;
  // scratch, sized for the largest step so far (N rows, F feeds)
  std::vector<float> x_, ln_, qkv_, atty_, proj_, resid_, fch_, gelu_;  // [N,*]
  std::vector<float> att_;                                              // [n_max, ctx]
  std::vector<float> last_, lnf_, lnf_mean_, lnf_rstd_, logits_;        // [F,*]
  std::vector<float> mean_, rstd_;                                      // [N]
};

}  // namespace plait::infer
