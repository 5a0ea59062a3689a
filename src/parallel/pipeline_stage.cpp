#include "parallel/pipeline_stage.h"

#include <algorithm>
#include <stdexcept>

#include "tensor/kernels.h"

namespace plait {
namespace k = kernels;

PipelineStage::PipelineStage(const GPTConfig& cfg, const ShardLayout& layout, TensorSplit split)
    : table_(cfg, layout), split_(std::move(split)) {
  params.assign(table_.total(), 0.0f);
  grads.assign(table_.total(), 0.0f);
}

void PipelineStage::zero_grads() { std::fill(grads.begin(), grads.end(), 0.0f); }

size_t PipelineStage::Slot::floats() const {
  size_t n = x.size() + tokens.size() + targets.size() + lnf.size() + lnf_mean.size() +
             lnf_rstd.size() + probs.size();
  for (const auto& b : blocks) n += b.floats();
  return n;
}

size_t PipelineStage::slot_floats(int B, int T) const {
  const auto& c = table_.config();
  const size_t N = static_cast<size_t>(B) * T;
  const BlockShape sh = table_.block_shape(B, T);
  BlockActivations a;
  a.resize(sh);
  size_t n = N * c.dim + (layout().first ? N : 0);
  n += a.floats() * (layout().layer_end - layout().layer_begin);
  if (layout().last) n += N + N * c.dim + 2 * N + N * c.padded_vocab();
  return n;
}

void PipelineStage::ensure_scratch(int B, int T) {
  if (scratch_shape_.B >= B && scratch_shape_.T == T) return;
  const auto& c = table_.config();
  scratch_shape_ = table_.block_shape(B, T);
  scratch_.resize(scratch_shape_);
  const size_t N = scratch_shape_.N();
  dres_.resize(N * c.dim);
  if (layout().last) {
    logits_.resize(N * c.padded_vocab());
    losses_.resize(N);
    dlosses_.resize(N);
  }
}

PipelineStage::Slot& PipelineStage::open_slot(int micro, int B, int T) {
  if (live_.count(micro))
    throw std::logic_error("pipeline stage: micro-batch " + std::to_string(micro) +
                           " is already in flight");
  Slot s;
  auto same = std::find_if(free_.begin(), free_.end(),
                           [&](const Slot& f) { return f.B == B && f.T == T; });
  if (same != free_.end()) {
    s = std::move(*same);
    free_.erase(same);
  } else {
    const auto& c = table_.config();
    const size_t N = static_cast<size_t>(B) * T;
    s.B = B, s.T = T;
    s.x.resize(N * c.dim);
    if (layout().first) s.tokens.resize(N);
    s.blocks.resize(layout().layer_end - layout().layer_begin);
    for (auto& a : s.blocks) a.resize(table_.block_shape(B, T));
    if (layout().last) {
      s.targets.resize(N);
      s.lnf.resize(N * c.dim);
      s.lnf_mean.resize(N);
      s.lnf_rstd.resize(N);
      s.probs.resize(N * c.padded_vocab());
    }
  }
  Slot& slot = live_.emplace(micro, std::move(s)).first->second;
  peak_ = std::max(peak_, in_flight());
  return slot;
}

void PipelineStage::release(int micro) {
  auto it = live_.find(micro);
  if (it == live_.end()) return;
  free_.push_back(std::move(it->second));
  live_.erase(it);
}

double PipelineStage::forward(int micro, int B, int T, const int32_t* tokens, const float* x,
                              const int32_t* targets) {
  const auto& c = table_.config();
  const size_t N = static_cast<size_t>(B) * T;
  ensure_scratch(B, T);
  Slot& s = open_slot(micro, B, T);
  std::span<const float> P(params);
  if (layout().first) {
    std::copy(tokens, tokens + N, s.tokens.begin());
    k::encoder_forward(s.x.data(), tokens, at(P, table_.wte().local), at(P, table_.wpe().local),
                       B, T, c.dim);
  } else {
    std::copy(x, x + N * c.dim, s.x.begin());
  }
  const BlockShape sh = table_.block_shape(B, T);
  const float* in = s.x.data();
  for (int l = layout().layer_begin; l < layout().layer_end; ++l) {
    BlockActivations& a = s.blocks[l - layout().layer_begin];
    block_forward(a, scratch_, block_view(table_, P, l), in, sh, &split_);
    in = a.out.data();
  }
  if (!layout().last || !targets) return 0.0;
  return head_forward(s, in, targets);
}

// ln_f, the tied head and the loss; returns the sum of the token losses.
double PipelineStage::head_forward(Slot& s, const float* out, const int32_t* targets) {
  const auto& c = table_.config();
  const int N = s.B * s.T;
  std::span<const float> P(params);
  std::copy(targets, targets + N, s.targets.begin());
  k::layernorm_forward(s.lnf.data(), s.lnf_mean.data(), s.lnf_rstd.data(), out,
                       at(P, table_.lnf_w().local), at(P, table_.lnf_b().local), N, c.dim);
  k::matmul_forward<float>(logits_.data(), s.lnf.data(), at(P, table_.wte().local), nullptr, N,
                           c.dim, c.padded_vocab());
  k::softmax_crossentropy_forward(s.probs.data(), losses_.data(), logits_.data(), targets, N,
                                  c.vocab, c.padded_vocab());
  double sum = 0;
  for (int i = 0; i < N; ++i) sum += losses_[i];
  return sum;
}

const float* PipelineStage::output(int micro) const {
  auto it = live_.find(micro);
  if (it == live_.end() || it->second.blocks.empty())
    throw std::logic_error("pipeline stage: no output for micro-batch " + std::to_string(micro));
  return it->second.blocks.back().out.data();
}

// d(sum over sequences of the mean token loss) down to dres_ = d(last block's output).
void PipelineStage::head_backward(Slot& s, const float* out) {
  const auto& c = table_.config();
  const int N = s.B * s.T, C = c.dim, V = c.vocab, Vp = c.padded_vocab();
  std::span<const float> P(params);
  std::span<float> G(grads);
  std::fill_n(dlosses_.begin(), N, 1.0f / static_cast<float>(s.T));
  std::fill_n(logits_.begin(), static_cast<size_t>(N) * Vp, 0.0f);
  k::softmax_crossentropy_backward(logits_.data(), s.probs.data(), s.targets.data(),
                                   dlosses_.data(), N, V, Vp);
  float* dlnf = scratch_.dln.data();
  std::fill_n(dlnf, static_cast<size_t>(N) * C, 0.0f);
  k::matmul_backward<float>(dlnf, at(G, table_.wte().local), nullptr, logits_.data(),
                            s.lnf.data(), at(P, table_.wte().local), N, C, Vp);
  std::fill_n(dres_.begin(), static_cast<size_t>(N) * C, 0.0f);
  k::layernorm_backward(dres_.data(), at(G, table_.lnf_w().local), at(G, table_.lnf_b().local),
                        dlnf, out, at(P, table_.lnf_w().local), s.lnf_mean.data(),
                        s.lnf_rstd.data(), N, C);
}

const float* PipelineStage::backward(int micro, const float* dout) {
  auto it = live_.find(micro);
  if (it == live_.end())
    throw std::logic_error("pipeline stage: backward of micro-batch " + std::to_string(micro) +
                           " before its forward");
  Slot& s = it->second;
  const auto& c = table_.config();
  const size_t NC = static_cast<size_t>(s.B) * s.T * c.dim;
  std::span<const float> P(params);
  std::span<float> G(grads);
  if (layout().last) head_backward(s, s.blocks.back().out.data());
  else std::copy(dout, dout + NC, dres_.begin());
  const BlockShape sh = table_.block_shape(s.B, s.T);
  for (int l = layout().layer_end - 1; l >= layout().layer_begin; --l) {
    const int i = l - layout().layer_begin;
    const float* x = i > 0 ? s.blocks[i - 1].out.data() : s.x.data();
    block_backward(dres_.data(), scratch_, block_view(table_, G, l), block_view(table_, P, l),
                   s.blocks[i], x, sh, &split_);
  }
  const bool first = layout().first;
  if (first)
    k::encoder_backward(at(G, table_.wte().local), at(G, table_.wpe().local), dres_.data(),
                        s.tokens.data(), s.B, s.T, c.dim);
  release(micro);
  return first ? nullptr : dres_.data();
}

}  // namespace plait
