#include "model/gpt.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tensor/kernels.h"
#include "util/error.h"
#include "util/rng.h"

namespace plait {
namespace k = kernels;

namespace {

// GPT-2's initialisation of a whole-model arena: one stream, in table order.
void init_gpt2(const ParamTable& t, std::span<float> arena, uint64_t seed) {
  Rng rng(seed);
  const float std_resid = 0.02f / std::sqrt(2.0f * static_cast<float>(t.config().layers));
  for (const auto& s : t.specs()) {
    float* p = arena.data() + s.offset;
    if (s.shape.size() == 1) {
      const bool is_ln_weight = s.name.ends_with("weight");
      std::fill(p, p + s.size, is_ln_weight ? 1.0f : 0.0f);
    } else {
      const float std = s.residual_proj ? std_resid : 0.02f;
      for (size_t i = 0; i < s.size; ++i) p[i] = std * static_cast<float>(rng.normal());
    }
  }
}

using Range = std::pair<size_t, size_t>;
Range range_of(const ShardSpec& s) { return {s.local.offset, s.local.offset + s.local.size}; }

// Ranges with adjacent ones joined (wte and wpe: one gather, one pooled window).
std::vector<Range> joined(std::vector<Range> r) {
  std::vector<Range> out;
  for (const Range& x : r)
    if (!out.empty() && out.back().second == x.first) out.back().second = x.second;
    else out.push_back(x);
  return out;
}

// A gate's hold on arena ranges for a scope: acquired in order (adjacent ones joined),
// released in reverse; `next` (empty: none) is the unit the pass acquires after this
// one, hinted once this one is held (joined alike, so it matches its acquisition).
class GateHold {
 public:
  GateHold(ParamGate* gate, std::initializer_list<Range> ranges, std::vector<Range> next = {})
      : gate_(gate), ranges_(joined(ranges)) {
    if (!gate_) return;
    for (const auto& [b, e] : ranges_) gate_->acquire(b, e);
    if (!next.empty()) gate_->prefetch(joined(std::move(next)));
  }
  ~GateHold() {
    if (gate_)
      for (auto it = ranges_.rbegin(); it != ranges_.rend(); ++it) gate_->release(it->first, it->second);
  }
  GateHold(const GateHold&) = delete;
  GateHold& operator=(const GateHold&) = delete;

 private:
  ParamGate* gate_;
  std::vector<Range> ranges_;
};

Range block_range(const ShardTable& t, int l) {
  return {t.block(l, BlockTensor::ln1_w).local.offset, range_of(t.block(l, BlockTensor::fcproj_b)).second};
}
Range lnf_range(const ShardTable& t) { return {t.lnf_w().local.offset, range_of(t.lnf_b()).second}; }
// The head's unit: the final norm and the tied head (wte).
std::vector<Range> head_unit(const ShardTable& t) { return {lnf_range(t), range_of(t.wte())}; }

}  // namespace

GPT::GPT(const GPTConfig& cfg) : GPT(cfg, ShardLayout::whole(cfg)) {}

// table_ first: it validates the config (UsageError naming the field).
GPT::GPT(const GPTConfig& cfg, const ShardLayout& layout, TensorSplit split)
    : table_(cfg), shards_(cfg, layout), split_(std::move(split)) {
  params.assign(shards_.total(), 0.0f);
  grads.assign(shards_.total(), 0.0f);
}

bool GPT::whole() const {
  const ShardLayout& l = layout();
  return l.tp == 1 && l.first && l.last && l.layer_begin == 0 && l.layer_end == config().layers;
}

const ParamTable& GPT::table() const {
  if (!whole()) throw std::logic_error("GPT::table(): a stage's arenas are laid out by shards()");
  return table_;
}

void GPT::init_weights(uint64_t seed) {
  if (whole()) return init_gpt2(table_, params, seed);
  std::vector<float> full(table_.total());
  init_gpt2(table_, full, seed);
  gather_shard(table_, full, shards_, params);
}

void GPT::zero_grads() { std::fill(grads.begin(), grads.end(), 0.0f); }

void GPT::set_recompute(Recompute r) {
  if (slots_.in_flight() > 0)
    throw std::logic_error("GPT::set_recompute: micro-batches are in flight");
  recompute_ = r;
  slots_ = ActivationSlots{};
  scratch_shape_ = {};  // ensure_scratch sizes redo_ for the new mode
}

StageShape GPT::stage_shape() const {
  const ShardLayout& l = layout();
  return {config().dim, config().heads, l.tp, config().padded_vocab(), l.layer_end - l.layer_begin,
          l.first, l.last, recompute_};
}

void GPT::check_batch(int B, int T) const {
  if (B <= 0 || T <= 0 || T > config().ctx)
    throw UsageError("forward: batch " + std::to_string(B) + " x " + std::to_string(T) +
                     " tokens does not fit ctx " + std::to_string(config().ctx));
}

// Scratch shared by every micro-batch, sized for the largest B seen at this T.
void GPT::ensure_scratch(int B, int T) {
  if (scratch_shape_.B >= B && scratch_shape_.T == T) return;
  const auto& c = config();
  scratch_shape_ = shards_.block_shape(B, T);
  scratch_.resize(scratch_shape_);
  redo_.resize_recomputed(scratch_shape_, recompute_);
  const size_t N = scratch_shape_.N();
  dres_.resize(N * c.dim);
  if (layout().last) {
    logits_.resize(N * c.padded_vocab());
    losses_.resize(N);
    dlosses_.resize(N);
  }
}

size_t GPT::slot_floats(int B, int T) const {
  const auto& c = config();
  const size_t N = static_cast<size_t>(B) * T;
  BlockActivations a;
  a.resize(shards_.block_shape(B, T), recompute_);
  size_t n = N * c.dim + (layout().first ? N : 0);
  n += a.floats() * (layout().layer_end - layout().layer_begin);
  if (layout().last) n += N + N * c.dim + 2 * N + N * c.padded_vocab();
  return n;
}

size_t GPT::activation_floats() const {
  return slots_.floats() + scratch_.floats() + redo_.floats() + dres_.size() + logits_.size() + losses_.size() +
         dlosses_.size();
}

double GPT::forward(int micro, int B, int T, const int32_t* tokens, const float* x,
                    const int32_t* targets) {
  check_batch(B, T);
  const auto& c = config();
  const size_t N = static_cast<size_t>(B) * T;
  ensure_scratch(B, T);
  StageActivations& a = slots_.open(micro, stage_shape(), B, T);
  std::span<const float> P(params);
  // ZeRO-3's hint: the unit the forward pass uses after block l - 1 (the embeddings')
  const auto next = [&](int l) -> std::vector<Range> {
    if (!gate_) return {};
    if (l < layout().layer_end) return {block_range(shards_, l)};
    // (not from the embeddings of a stage without blocks: the head's wte is theirs)
    return layout().last && l > layout().layer_begin ? head_unit(shards_) : std::vector<Range>{};
  };
  if (layout().first) {
    GateHold hold(gate_, {range_of(shards_.wte()), range_of(shards_.wpe())},
                  next(layout().layer_begin));
    std::copy(tokens, tokens + N, a.tokens.begin());
    k::encoder_forward(a.x.data(), tokens, at(P, shards_.wte().local), at(P, shards_.wpe().local),
                       B, T, c.dim);
  } else {
    std::copy(x, x + N * c.dim, a.x.begin());
  }
  const BlockShape sh = shards_.block_shape(B, T);
  const float* in = a.x.data();
  for (int l = layout().layer_begin; l < layout().layer_end; ++l) {
    BlockActivations& b = a.blocks[l - layout().layer_begin];
    GateHold hold(gate_, {block_range(shards_, l)}, next(l + 1));
    block_forward_kept(b, in, sh, l);
    in = b.out.data();
  }
  if (!layout().last) return 0.0;
  GateHold hold(gate_, {lnf_range(shards_), range_of(shards_.wte())});
  return head_forward(a, in, targets);
}

// out [N,C] -> ln_f -> logits [N,Vp] = lnf wte^T (the tied head) -> the loss when there
// are targets; returns the sum of the N token losses (0 without targets).
double GPT::head_forward(StageActivations& a, const float* out, const int32_t* targets) {
  const auto& c = config();
  const int N = a.B * a.T;
  std::span<const float> P(params);
  k::layernorm_forward(a.lnf.data(), a.lnf_mean.data(), a.lnf_rstd.data(), out,
                       at(P, shards_.lnf_w().local), at(P, shards_.lnf_b().local), N, c.dim);
  k::matmul_forward<float>(logits_.data(), a.lnf.data(), at(P, shards_.wte().local), nullptr, N,
                           c.dim, c.padded_vocab());
  last_n_ = static_cast<size_t>(N), last_t_ = a.T;
  a.has_targets = targets != nullptr;
  if (!targets) return 0.0;
  std::copy(targets, targets + N, a.targets.begin());
  k::softmax_crossentropy_forward(a.probs.data(), losses_.data(), logits_.data(), targets, N,
                                  c.vocab, c.padded_vocab());
  double sum = 0;
  for (int i = 0; i < N; ++i) sum += losses_[i];
  return sum;
}

const float* GPT::output(int micro) const {
  const StageActivations* a = slots_.find(micro);
  if (!a) throw std::logic_error("model stage: no output for micro-batch " + std::to_string(micro));
  return a->blocks.empty() ? a->x.data() : a->blocks.back().out.data();
}

// d(sum over sequences of the mean token loss) down to dres_ = d(out), out [N,C] being
// the last block's output.
void GPT::head_backward(StageActivations& a, const float* out) {
  const auto& c = config();
  const int N = a.B * a.T, C = c.dim, V = c.vocab, Vp = c.padded_vocab();
  std::span<const float> P(params);
  std::span<float> G(grads);
  // d(sum over sequences of mean over T) / d(token loss) = 1/T
  std::fill_n(dlosses_.begin(), N, 1.0f / static_cast<float>(a.T));
  float* dlogits = logits_.data();  // the logits are no longer needed: overwritten
  k::softmax_crossentropy_backward(dlogits, a.probs.data(), a.targets.data(), dlosses_.data(), N,
                                   V, Vp, k::Into::overwrite);
  float* dlnf = scratch_.dln.data();
  k::matmul_backward<float>(dlnf, at(G, shards_.wte().local), nullptr, dlogits, a.lnf.data(),
                            at(P, shards_.wte().local), N, C, Vp, k::Into::overwrite);
  k::layernorm_backward(dres_.data(), at(G, shards_.lnf_w().local), at(G, shards_.lnf_b().local),
                        dlnf, out, at(P, shards_.lnf_w().local), a.lnf_mean.data(),
                        a.lnf_rstd.data(), N, C, k::Into::overwrite);
}

// Block l's forward, keeping what recompute_ keeps in `kept`: none, everything;
// selective, all but att (computed in the shared buffer, then overwritten); block,
// only out (everything computed in the shared buffer).
void GPT::block_forward_kept(BlockActivations& kept, const float* x, const BlockShape& sh,
                             int l) {
  const auto w = block_view(shards_, std::span<const float>(params), l);
  switch (recompute_) {
    case Recompute::none:
      return block_forward(kept, scratch_, w, x, sh, &split_);
    case Recompute::selective:
      kept.att.swap(redo_.att);  // lend kept the shared T x T buffer for this block
      block_forward(kept, scratch_, w, x, sh, &split_);
      kept.att.swap(redo_.att);
      return;
    case Recompute::block:
      block_forward(redo_, scratch_, w, x, sh, &split_);
      std::copy_n(redo_.out.begin(), sh.N() * sh.C, kept.out.begin());
      return;
  }
}

// Block l's backward from what `kept` holds, recomputing the rest first with the
// forward's own kernels on the same inputs (so the values are bit-identical): selective,
// the attention probabilities from the kept q, k, v; block, the whole block from its
// input x (with tensor parallelism, its two allreduces again, in the same order on
// every rank of the group).
void GPT::block_backward_kept(BlockActivations& kept, const float* x, const BlockShape& sh,
                              int l) {
  const auto w = block_view(shards_, std::span<const float>(params), l);
  const auto g = block_view(shards_, std::span<float>(grads), l);
  switch (recompute_) {
    case Recompute::none:
      return block_backward(dres_.data(), scratch_, g, w, kept, x, sh, &split_);
    case Recompute::selective:
      kept.att.swap(redo_.att);
      k::attention_forward(redo_.atty.data(), kept.att.data(), kept.qkv.data(), sh.B, sh.T,
                           sh.Ca(), sh.NHl());
      block_backward(dres_.data(), scratch_, g, w, kept, x, sh, &split_);
      kept.att.swap(redo_.att);
      return;
    case Recompute::block:
      block_forward(redo_, scratch_, w, x, sh, &split_);
      return block_backward(dres_.data(), scratch_, g, w, redo_, x, sh, &split_);
  }
}

const float* GPT::backward(int micro, const float* dout,
                           const std::function<void(size_t)>& on_ready) {
  StageActivations* found = slots_.find(micro);
  if (!found)
    throw std::logic_error("model stage: backward of micro-batch " + std::to_string(micro) +
                           " before its forward");
  StageActivations& a = *found;
  if (layout().last && !a.has_targets)
    throw RuntimeError("backward() needs a forward() with targets");
  const auto& c = config();
  std::span<float> G(grads);
  // ZeRO-3's hint: the unit the backward pass uses after block l + 1 (the head's)
  const auto next = [&](int l) -> std::vector<Range> {
    if (!gate_ || l < layout().layer_begin) return {};
    return {block_range(shards_, l)};
  };
  if (layout().last) {
    GateHold hold(gate_, {lnf_range(shards_), range_of(shards_.wte())}, next(layout().layer_end - 1));
    head_backward(a, a.blocks.empty() ? a.x.data() : a.blocks.back().out.data());
    if (on_ready) on_ready(shards_.lnf_w().local.offset);
  } else {
    std::copy(dout, dout + static_cast<size_t>(a.B) * a.T * c.dim, dres_.begin());
  }
  const BlockShape sh = shards_.block_shape(a.B, a.T);
  for (int l = layout().layer_end - 1; l >= layout().layer_begin; --l) {
    const int i = l - layout().layer_begin;
    const float* x = i > 0 ? a.blocks[i - 1].out.data() : a.x.data();
    GateHold hold(gate_, {block_range(shards_, l)}, next(l - 1));  // recomputation reads them too
    block_backward_kept(a.blocks[i], x, sh, l);
    if (on_ready) on_ready(shards_.block(l, BlockTensor::ln1_w).local.offset);
  }
  const bool first = layout().first;
  if (first) {
    k::encoder_backward(at(G, shards_.wte().local), at(G, shards_.wpe().local), dres_.data(),
                        a.tokens.data(), a.B, a.T, c.dim);
    if (on_ready) on_ready(0);
  }
  slots_.release(micro);
  return first ? nullptr : dres_.data();
}

void GPT::release(int micro) { slots_.release(micro); }

float GPT::forward(const int32_t* tokens, const int32_t* targets, int B, int T) {
  if (!layout().first || !layout().last)
    throw std::logic_error("GPT::forward(tokens, ...): needs a single-stage model");
  slots_.release(0);  // a forward without a backward (evaluation, sampling) leaves it
  const double sum = forward(0, B, T, tokens, nullptr, targets);
  if (!targets) return 0.0f;
  return static_cast<float>(sum / (static_cast<double>(B) * T));
}

void GPT::backward(const std::function<void(size_t)>& on_ready) {
  const StageActivations* a = slots_.find(0);
  if (!a || !a->has_targets) throw RuntimeError("backward() needs a forward() with targets");
  backward(0, nullptr, on_ready);
}

const float* GPT::logits(int b, int t) const {
  return logits_.data() + (static_cast<size_t>(b) * last_t_ + t) * config().padded_vocab();
}

}  // namespace plait
