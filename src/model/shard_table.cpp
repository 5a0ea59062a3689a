#include "model/shard_table.h"

#include <stdexcept>

namespace plait {
namespace {

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Box whole_box(const std::vector<int64_t>& shape) { return {std::vector<int64_t>(shape.size(), 0), shape}; }

// Rows [r0, r1) of a matrix with `cols` columns, or entries [r0, r1) of a vector.
Box rows(int64_t r0, int64_t r1, int64_t cols) {
  if (cols == 0) return {{r0}, {r1}};
  return {{r0, 0}, {r1, cols}};
}
Box cols(int64_t rows, int64_t c0, int64_t c1) { return {{0, c0}, {rows, c1}}; }

// A 1-D tensor is a 2-D one of a single row.
void as_2d(const std::vector<int64_t>& shape, int64_t& r, int64_t& c) {
  if (shape.size() == 1) r = 1, c = shape[0];
  else if (shape.size() == 2) r = shape[0], c = shape[1];
  else throw std::invalid_argument("shard boxes: tensors are 1-D or 2-D");
}
void box_2d(const Box& b, int64_t& r0, int64_t& r1, int64_t& c0, int64_t& c1) {
  if (b.begin.size() == 1) r0 = 0, r1 = 1, c0 = b.begin[0], c1 = b.end[0];
  else r0 = b.begin[0], r1 = b.end[0], c0 = b.begin[1], c1 = b.end[1];
}

}  // namespace

size_t Box::size() const { return static_cast<size_t>(numel(shape())); }

std::vector<int64_t> Box::shape() const {
  std::vector<int64_t> s(begin.size());
  for (size_t k = 0; k < s.size(); ++k) s[k] = end[k] - begin[k];
  return s;
}

ShardTable::ShardTable(const GPTConfig& cfg, const ShardLayout& layout)
    : cfg_(cfg), layout_(layout) {
  const int64_t V = cfg.padded_vocab(), C = cfg.dim, T = cfg.ctx;
  if (layout.tp < 1 || cfg.heads % layout.tp != 0 || (4 * C) % layout.tp != 0 ||
      layout.tp_rank < 0 || layout.tp_rank >= layout.tp || layout.layer_begin < 0 ||
      layout.layer_end > cfg.layers || layout.layer_begin > layout.layer_end)
    throw std::invalid_argument("ShardTable: layout does not fit the model");
  if (layout.first) {
    wte_ = add("transformer.wte.weight", {V, C}, {whole_box({V, C})}, true, true, false);
    wpe_ = add("transformer.wpe.weight", {T, C}, {whole_box({T, C})}, true, true, false);
  }
  for (int l = layout.layer_begin; l < layout.layer_end; ++l) add_block(l);
  if (layout.last) {
    lnf_w_ = add("transformer.ln_f.weight", {C}, {whole_box({C})}, true, false, false);
    add("transformer.ln_f.bias", {C}, {whole_box({C})}, true, false, false);
    if (!layout.first) {
      wte_ = add("transformer.wte.weight", {V, C}, {whole_box({V, C})}, true, true, false);
      specs_[wte_].tied_copy = true;
      specs_[wte_].owner = false;
    }
  }
}

// One block's tensors in kBlockTensors order (BlockTensor), with this tp rank's boxes.
void ShardTable::add_block(int layer) {
  const int64_t C = cfg_.dim, r = layout_.tp_rank, Ca = C / layout_.tp, H = 4 * C / layout_.tp;
  const std::string p = "transformer.h." + std::to_string(layer) + ".";
  std::vector<Box> qkv_w, qkv_b;
  // q, k, v rows of this rank's heads (one box when they are all of them)
  if (layout_.tp == 1) qkv_w = {rows(0, 3 * C, C)}, qkv_b = {rows(0, 3 * C, 0)};
  for (int64_t j = 0; j < 3 && layout_.tp > 1; ++j) {
    qkv_w.push_back(rows(j * C + r * Ca, j * C + (r + 1) * Ca, C));
    qkv_b.push_back(rows(j * C + r * Ca, j * C + (r + 1) * Ca, 0));
  }
  block_first_.push_back(static_cast<int>(specs_.size()));
  add(p + "ln_1.weight", {C}, {whole_box({C})}, true, false, false);
  add(p + "ln_1.bias", {C}, {whole_box({C})}, true, false, false);
  add(p + "attn.c_attn.weight", {3 * C, C}, qkv_w, false, true, false);
  add(p + "attn.c_attn.bias", {3 * C}, qkv_b, false, false, false);
  add(p + "attn.c_proj.weight", {C, C}, {cols(C, r * Ca, (r + 1) * Ca)}, false, true, true);
  add(p + "attn.c_proj.bias", {C}, {whole_box({C})}, true, false, false);
  add(p + "ln_2.weight", {C}, {whole_box({C})}, true, false, false);
  add(p + "ln_2.bias", {C}, {whole_box({C})}, true, false, false);
  add(p + "mlp.c_fc.weight", {4 * C, C}, {rows(r * H, (r + 1) * H, C)}, false, true, false);
  add(p + "mlp.c_fc.bias", {4 * C}, {rows(r * H, (r + 1) * H, 0)}, false, false, false);
  add(p + "mlp.c_proj.weight", {C, 4 * C}, {cols(C, r * H, (r + 1) * H)}, false, true, true);
  add(p + "mlp.c_proj.bias", {C}, {whole_box({C})}, true, false, false);
}

int ShardTable::add(const std::string& name, std::vector<int64_t> full, std::vector<Box> boxes,
                    bool replicated, bool decay, bool residual_proj) {
  ShardSpec s;
  s.full_shape = std::move(full);
  s.boxes = std::move(boxes);
  // The local shape: the boxes stacked along the first dimension.
  std::vector<int64_t> shape = s.boxes[0].shape();
  for (size_t i = 1; i < s.boxes.size(); ++i) shape[0] += s.boxes[i].shape()[0];
  s.local = ParamSpec{name, shape, total_, static_cast<size_t>(numel(shape)), decay, residual_proj};
  s.tp_replicated = replicated && layout_.tp > 1;
  s.owner = !s.tp_replicated || layout_.tp_rank == 0;
  total_ += s.local.size;
  specs_.push_back(std::move(s));
  return static_cast<int>(specs_.size()) - 1;
}

std::vector<ParamSpec> ShardTable::param_specs() const {
  std::vector<ParamSpec> out;
  out.reserve(specs_.size());
  for (const auto& s : specs_) out.push_back(s.local);
  return out;
}

const ShardSpec& ShardTable::at_index(int i, const char* what) const {
  if (i < 0) throw std::logic_error(std::string("ShardTable: this rank holds no ") + what);
  return specs_[i];
}

const ShardSpec& ShardTable::block(int layer, BlockTensor t) const {
  if (layer < layout_.layer_begin || layer >= layout_.layer_end)
    throw std::logic_error("ShardTable: block " + std::to_string(layer) + " is not on this stage");
  return specs_[block_first_[layer - layout_.layer_begin] + static_cast<int>(t)];
}
const ShardSpec& ShardTable::wte() const { return at_index(wte_, "wte"); }
const ShardSpec& ShardTable::wpe() const { return at_index(wpe_, "wpe"); }
const ShardSpec& ShardTable::lnf_w() const { return at_index(lnf_w_, "ln_f"); }
const ShardSpec& ShardTable::lnf_b() const { return at_index(lnf_w_ < 0 ? -1 : lnf_w_ + 1, "ln_f"); }

namespace {
template <class P, class A>
BlockView<P> make_view(const ShardTable& t, A arena, int layer) {
  auto p = [&](BlockTensor bt) { return arena.data() + t.block(layer, bt).local.offset; };
  using B = BlockTensor;
  return {p(B::ln1_w), p(B::ln1_b), p(B::qkv_w),  p(B::qkv_b),  p(B::attproj_w), p(B::attproj_b),
          p(B::ln2_w), p(B::ln2_b), p(B::fc_w),   p(B::fc_b),   p(B::fcproj_w),  p(B::fcproj_b)};
}
}  // namespace

BlockView<const float*> block_view(const ShardTable& t, std::span<const float> arena, int layer) {
  return make_view<const float*>(t, arena, layer);
}
BlockView<float*> block_view(const ShardTable& t, std::span<float> arena, int layer) {
  return make_view<float*>(t, arena, layer);
}

void copy_box_out(const float* full, const std::vector<int64_t>& full_shape, const Box& b,
                  float* out) {
  int64_t R, Cc, r0, r1, c0, c1;
  as_2d(full_shape, R, Cc);
  box_2d(b, r0, r1, c0, c1);
  for (int64_t i = r0; i < r1; ++i)
    for (int64_t j = c0; j < c1; ++j) *out++ = full[i * Cc + j];
}

void copy_box_in(float* full, const std::vector<int64_t>& full_shape, const Box& b,
                 const float* in) {
  int64_t R, Cc, r0, r1, c0, c1;
  as_2d(full_shape, R, Cc);
  box_2d(b, r0, r1, c0, c1);
  for (int64_t i = r0; i < r1; ++i)
    for (int64_t j = c0; j < c1; ++j) full[i * Cc + j] = *in++;
}

void gather_shard(const ParamTable& full, std::span<const float> full_arena,
                  const ShardTable& shard, std::span<float> shard_arena) {
  for (const ShardSpec& s : shard.specs()) {
    const int idx = full.find(s.local.name);
    if (idx < 0) throw std::logic_error("gather_shard: no tensor " + s.local.name);
    const float* src = full_arena.data() + full.specs()[idx].offset;
    float* dst = shard_arena.data() + s.local.offset;
    for (const Box& b : s.boxes) {
      copy_box_out(src, s.full_shape, b, dst);
      dst += b.size();
    }
  }
}

}  // namespace plait
