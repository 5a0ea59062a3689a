#include "model/gpt.h"

#include <algorithm>
#include <cmath>

#include "tensor/kernels.h"
#include "util/error.h"
#include "util/rng.h"

namespace plait {
namespace k = kernels;

void HeadActivations::resize(size_t N, int C, int V) {
  encoded.resize(N * C);
  lnf.resize(N * C);
  lnf_mean.resize(N);
  lnf_rstd.resize(N);
  logits.resize(N * V);
  probs.resize(N * V);
  losses.resize(N);
  dlosses.resize(N);
  targets.resize(N);
  tokens.resize(N);
}

size_t HeadActivations::floats() const {
  return encoded.size() + lnf.size() + lnf_mean.size() + lnf_rstd.size() + logits.size() +
         probs.size() + losses.size() + dlosses.size() + targets.size() + tokens.size();
}

GPT::GPT(const GPTConfig& cfg)
    : params(0), grads(0), table_(cfg) {
  params.assign(table_.total(), 0.0f);
  grads.assign(table_.total(), 0.0f);
}

void GPT::init_weights(uint64_t seed) {
  Rng rng(seed);
  const float std_resid = 0.02f / std::sqrt(2.0f * static_cast<float>(config().layers));
  for (const auto& s : table_.specs()) {
    float* p = params.data() + s.offset;
    if (s.shape.size() == 1) {
      const bool is_ln_weight = s.name.ends_with("weight");
      std::fill(p, p + s.size, is_ln_weight ? 1.0f : 0.0f);
    } else {
      const float std = s.residual_proj ? std_resid : 0.02f;
      for (size_t i = 0; i < s.size; ++i) p[i] = std * static_cast<float>(rng.normal());
    }
  }
}

void GPT::zero_grads() { std::fill(grads.begin(), grads.end(), 0.0f); }

void GPT::ensure_shape(int B, int T) {
  const auto& c = config();
  if (B <= 0 || T <= 0 || T > c.ctx)
    throw UsageError("forward: batch " + std::to_string(B) + " x " + std::to_string(T) +
                     " tokens does not fit ctx " + std::to_string(c.ctx));
  if (shape_.B == B && shape_.T == T) return;
  shape_ = BlockShape{B, T, c.dim, c.heads};
  acts_.resize(c.layers);
  for (auto& a : acts_) a.resize(shape_);
  scratch_.resize(shape_);
  head_.resize(shape_.N(), c.dim, c.padded_vocab());
  dres_.resize(shape_.N() * c.dim);
}

float GPT::forward(const int32_t* tokens, const int32_t* targets, int B, int T) {
  ensure_shape(B, T);
  const auto& c = config();
  const int N = B * T, C = c.dim, V = c.vocab, Vp = c.padded_vocab();
  std::span<const float> P(params);
  std::copy(tokens, tokens + N, head_.tokens.begin());
  k::encoder_forward(head_.encoded.data(), tokens, at(P, table_.wte()), at(P, table_.wpe()),
                     B, T, C);
  const float* x = head_.encoded.data();
  for (int l = 0; l < c.layers; ++l) {
    block_forward(acts_[l], scratch_, block_view(table_, P, l), x, shape_);
    x = acts_[l].out.data();
  }
  k::layernorm_forward(head_.lnf.data(), head_.lnf_mean.data(), head_.lnf_rstd.data(), x,
                       at(P, table_.lnf_w()), at(P, table_.lnf_b()), N, C);
  k::matmul_forward<float>(head_.logits.data(), head_.lnf.data(), at(P, table_.wte()), nullptr, N, C,
                    Vp);
  have_targets_ = targets != nullptr;
  if (!have_targets_) return 0.0f;
  std::copy(targets, targets + N, head_.targets.begin());
  k::softmax_crossentropy_forward(head_.probs.data(), head_.losses.data(), head_.logits.data(),
                                  targets, N, V, Vp);
  double sum = 0;
  for (int i = 0; i < N; ++i) sum += head_.losses[i];
  return static_cast<float>(sum / N);
}

void GPT::backward(const std::function<void(size_t)>& on_ready) {
  if (!have_targets_) throw RuntimeError("backward() needs a forward() with targets");
  const auto& c = config();
  const int B = shape_.B, T = shape_.T, N = B * T, C = c.dim, V = c.vocab,
            Vp = c.padded_vocab();
  std::span<const float> P(params);
  std::span<float> G(grads);
  // d(sum over sequences of mean over T) / d(token loss) = 1/T
  std::fill(head_.dlosses.begin(), head_.dlosses.end(), 1.0f / static_cast<float>(T));
  float* dlogits = head_.logits.data();  // logits are no longer needed
  std::fill(head_.logits.begin(), head_.logits.end(), 0.0f);
  k::softmax_crossentropy_backward(dlogits, head_.probs.data(), head_.targets.data(),
                                   head_.dlosses.data(), N, V, Vp);
  float* dlnf = scratch_.dln.data();
  std::fill(scratch_.dln.begin(), scratch_.dln.end(), 0.0f);
  k::matmul_backward<float>(dlnf, at(G, table_.wte()), nullptr, dlogits, head_.lnf.data(),
                     at(P, table_.wte()), N, C, Vp);
  std::fill(dres_.begin(), dres_.end(), 0.0f);
  const float* last = c.layers > 0 ? acts_.back().out.data() : head_.encoded.data();
  k::layernorm_backward(dres_.data(), at(G, table_.lnf_w()), at(G, table_.lnf_b()), dlnf, last,
                        at(P, table_.lnf_w()), head_.lnf_mean.data(), head_.lnf_rstd.data(), N,
                        C);
  if (on_ready) on_ready(table_.lnf_w().offset);
  for (int l = c.layers - 1; l >= 0; --l) {
    const float* x = l > 0 ? acts_[l - 1].out.data() : head_.encoded.data();
    block_backward(dres_.data(), scratch_, block_view(table_, G, l), block_view(table_, P, l),
                   acts_[l], x, shape_);
    if (on_ready) on_ready(table_.block(l, BlockTensor::ln1_w).offset);
  }
  k::encoder_backward(at(G, table_.wte()), at(G, table_.wpe()), dres_.data(),
                      head_.tokens.data(), B, T, C);
  if (on_ready) on_ready(0);
}

const float* GPT::logits(int b, int t) const {
  return head_.logits.data() + (static_cast<size_t>(b) * shape_.T + t) * config().padded_vocab();
}

size_t GPT::activation_floats() const {
  size_t n = head_.floats() + scratch_.floats() + dres_.size();
  for (const auto& a : acts_) n += a.floats();
  return n;
}

}  // namespace plait
