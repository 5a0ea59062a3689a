// The parameter table: one list, derived from the config, that fixes the name, shape
// and offset of every parameter tensor. Parameters, gradients and the two Adam moments
// are "arenas": flat float buffers of table.total floats with this same layout, so the
// optimizer, gradient reduction, sharding and checkpoints are flat span operations.
//
// Order (nanoGPT names, weights [out, in] row-major):
//   transformer.wte.weight [V,C]    transformer.wpe.weight [T,C]
//   per block i, in this order (kBlockTensors):
//     transformer.h.{i}.ln_1.weight [C]        .ln_1.bias [C]
//     transformer.h.{i}.attn.c_attn.weight [3C,C]  .attn.c_attn.bias [3C]
//     transformer.h.{i}.attn.c_proj.weight [C,C]   .attn.c_proj.bias [C]
//     transformer.h.{i}.ln_2.weight [C]        .ln_2.bias [C]
//     transformer.h.{i}.mlp.c_fc.weight [4C,C]     .mlp.c_fc.bias [4C]
//     transformer.h.{i}.mlp.c_proj.weight [C,4C]   .mlp.c_proj.bias [C]
//   transformer.ln_f.weight [C]     transformer.ln_f.bias [C]
// The LM head is tied to wte (no separate tensor).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/config.h"

namespace plait {

// The role of a tensor inside a block (index into kBlockTensors).
enum class BlockTensor : int {
  ln1_w, ln1_b, qkv_w, qkv_b, attproj_w, attproj_b,
  ln2_w, ln2_b, fc_w, fc_b, fcproj_w, fcproj_b, count
};
inline constexpr int kBlockTensorCount = static_cast<int>(BlockTensor::count);

struct ParamSpec {
  std::string name;            // nanoGPT name
  std::vector<int64_t> shape;  // this table's (possibly sharded) shape
  size_t offset = 0;           // in floats, into every arena
  size_t size = 0;             // product of shape
  bool decay = false;          // AdamW weight decay applies (matrices only)
  bool residual_proj = false;  // c_proj.weight: init std scaled by 1/sqrt(2L)
};

class ParamTable {
 public:
  explicit ParamTable(const GPTConfig& cfg);

  const GPTConfig& config() const { return cfg_; }
  const std::vector<ParamSpec>& specs() const { return specs_; }
  size_t total() const { return total_; }  // floats in one arena

  // Index of a named tensor, or -1.
  int find(const std::string& name) const;
  const ParamSpec& wte() const { return specs_[0]; }
  const ParamSpec& wpe() const { return specs_[1]; }
  const ParamSpec& block(int layer, BlockTensor t) const {
    return specs_[2 + layer * kBlockTensorCount + static_cast<int>(t)];
  }
  const ParamSpec& lnf_w() const { return specs_[specs_.size() - 2]; }
  const ParamSpec& lnf_b() const { return specs_[specs_.size() - 1]; }

 private:
  void add(std::string name, std::vector<int64_t> shape, bool decay, bool residual_proj);
  GPTConfig cfg_;
  std::vector<ParamSpec> specs_;
  size_t total_ = 0;
};

// A typed view of one tensor inside an arena.
inline float* at(std::span<float> arena, const ParamSpec& s) { return arena.data() + s.offset; }
inline const float* at(std::span<const float> arena, const ParamSpec& s) {
  return arena.data() + s.offset;
}

}  // namespace plait
