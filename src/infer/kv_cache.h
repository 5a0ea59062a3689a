// The key/value cache of generation: for every layer and every sequence slot, the
// keys and values (each [ctx, C]) of the positions computed so far. A token's keys
// and values depend only on the tokens at and before it (causal attention) and on its
// position (learned position embeddings), so a sequence that grows by one token
// needs one new row per layer, not a recomputation of the whole context.
//
// Layout: k and v are [layers, slots, ctx, C], row-major; slot s of layer l is the
// contiguous [ctx, C] block at ((l * slots + s) * ctx) * C. The cache does not track
// how many positions of a slot are valid: the decoder's feeds say so (infer/decoder.h).
#pragma once
#include <cstddef>
#include <vector>

namespace plait::infer {

class KvCache {
 public:
  KvCache(int layers, int slots, int ctx, int C);

  int slots() const { return slots_; }
  int ctx() const { return ctx_; }
  // [ctx, C] blocks of one slot in one layer
  float* k(int layer, int slot) { return k_.data() + offset(layer, slot); }
  float* v(int layer, int slot) { return v_.data() + offset(layer, slot); }
  size_t floats() const { return k_.size() + v_.size(); }

 private:
  size_t offset(int layer, int slot) const {
    return (static_cast<size_t>(layer) * slots_ + slot) * ctx_ * C_;
  }
  int layers_, slots_, ctx_, C_;
  std::vector<float> k_, v_;
};

}  // namespace plait::infer
