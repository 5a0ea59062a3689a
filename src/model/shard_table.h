// The parameter table of ONE rank of a tensor- and pipeline-parallel layout: which
// slices of which full (nanoGPT) tensors it holds, and where they live in its arenas.
//
// A rank of stage s holds blocks [layer_begin, layer_end), split tp ways (Megatron,
// model/block.h's TensorSplit): with Ca = C/tp and H = 4C/tp, tensor-parallel rank r
// holds, as BOXES of the full tensors (begin/end per dimension):
//   attn.c_attn.weight [3C,C]  rows [jC + rCa, jC + (r+1)Ca) for j = q, k, v (3 boxes)
//   attn.c_attn.bias   [3C]    the same three ranges
//   attn.c_proj.weight [C,C]   columns [rCa, (r+1)Ca)
//   mlp.c_fc.weight    [4C,C]  rows [rH, (r+1)H);   mlp.c_fc.bias [4C]: [rH, (r+1)H)
//   mlp.c_proj.weight  [C,4C]  columns [rH, (r+1)H)
//   ln_1, ln_2, attn.c_proj.bias, mlp.c_proj.bias: whole (replicated over tp)
// The first stage also holds wte and wpe; the last stage ln_f and wte again (the LM
// head is tied to wte: with pp > 1 the last stage's wte is a copy whose gradient is
// summed with the first stage's every step, so the two stay equal). Embeddings and
// ln_f are replicated over tp.
//
// A local tensor is its boxes concatenated in order, each row-major: c_attn's weight
// is [3Ca, C] = q rows | k rows | v rows, exactly the layout the attention kernel
// expects for NH/tp heads. With tp = 1 and one stage the table is ParamTable's.
//
// Ownership: every float of the full model has exactly one OWNER among the ranks of
// one data-parallel replica (the tp rank 0 copy of a replicated tensor, the first
// stage's wte). Owners write checkpoints and count in the global gradient norm.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/block.h"
#include "model/config.h"
#include "model/params.h"

namespace plait {

// Which part of the model one rank holds.
struct ShardLayout {
  int tp = 1, tp_rank = 0;
  int layer_begin = 0, layer_end = 0;  // this stage's blocks
  bool first = true;                   // embeddings (wte, wpe)
  bool last = true;                    // final norm, head (wte) and loss
  static ShardLayout whole(const GPTConfig& c) { return {1, 0, 0, c.layers, true, true}; }
};

struct Box {
  std::vector<int64_t> begin, end;  // [begin, end) per dimension of the full tensor
  std::vector<int64_t> shape() const;
  size_t size() const;  // elements in the box
};

struct ShardSpec {
  ParamSpec local;                  // full tensor's name; local shape, offset, size
  std::vector<int64_t> full_shape;  // the whole tensor's shape
  std::vector<Box> boxes;           // concatenated in order, they are the local tensor
  bool tp_replicated = false;       // every tp rank holds the same values
  bool tied_copy = false;           // the last stage's copy of wte (pp > 1)
  bool owner = true;                // writes checkpoints, counts in the gradient norm
};

class ShardTable {
 public:
  ShardTable(const GPTConfig& cfg, const ShardLayout& layout);

  const GPTConfig& config() const { return cfg_; }
  const ShardLayout& layout() const { return layout_; }
  const std::vector<ShardSpec>& specs() const { return specs_; }
  std::vector<ParamSpec> param_specs() const;  // the local specs (for AdamW)
  size_t total() const { return total_; }      // floats in one arena of this rank

  // Blocks held: [layout().layer_begin, layout().layer_end).
  const ShardSpec& block(int layer, BlockTensor t) const;
  const ShardSpec& wte() const;  // first or last stage
  const ShardSpec& wpe() const;  // first stage
  const ShardSpec& lnf_w() const;
  const ShardSpec& lnf_b() const;
  // The BlockShape of a micro-batch of B x T on this rank.
  BlockShape block_shape(int B, int T) const { return {B, T, cfg_.dim, cfg_.heads, layout_.tp}; }

 private:
  int add(const std::string& name, std::vector<int64_t> full, std::vector<Box> boxes,
          bool replicated, bool decay, bool residual_proj);
  void add_block(int layer);
  const ShardSpec& at_index(int i, const char* what) const;
  GPTConfig cfg_;
  ShardLayout layout_;
  std::vector<ShardSpec> specs_;
  size_t total_ = 0;
  int wte_ = -1, wpe_ = -1, lnf_w_ = -1;
  std::vector<int> block_first_;  // index of each held block's first tensor
};

BlockView<const float*> block_view(const ShardTable& t, std::span<const float> arena, int layer);
BlockView<float*> block_view(const ShardTable& t, std::span<float> arena, int layer);

// Copies box `b` of a full row-major tensor of shape `full` (1-D or 2-D) into `out`
// (row-major, numel of the box); the inverse writes `in` into the box.
void copy_box_out(const float* full, const std::vector<int64_t>& full_shape, const Box& b,
                  float* out);
void copy_box_in(float* full, const std::vector<int64_t>& full_shape, const Box& b,
                 const float* in);

// This rank's slice of a full arena laid out by ParamTable (e.g. GPT::params after
// init_weights): every local tensor gathered from its boxes.
void gather_shard(const ParamTable& full, std::span<const float> full_arena,
                  const ShardTable& shard, std::span<float> shard_arena);

}  // namespace plait
