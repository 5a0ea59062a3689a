#include "infer/decoder.h"

#include <algorithm>
#include <string>

#include "model/block.h"
#include "tensor/decode_kernels.h"
#include "tensor/kernels.h"
#include "util/error.h"
#include "util/machine.h"

namespace plait::infer {
namespace k = kernels;

namespace {
// This rank's cache (its blocks, its heads' channels), after checking that it fits in
// memory (one line instead of bad_alloc).
KvCache checked(const ShardTable& t, int slots) {
  const GPTConfig& c = t.config();
  const ShardLayout& l = t.layout();
  if (slots < 1) throw UsageError("decoder: at least one sequence slot is needed");
  const int layers = l.layer_end - l.layer_begin, Ca = c.dim / l.tp;
  const double bytes = 2.0 * sizeof(float) * layers * double(slots) * c.ctx * Ca;
  require_memory(bytes, "the key/value cache of " + std::to_string(slots) +
                            " sequences (layers " + std::to_string(layers) + ", ctx " +
                            std::to_string(c.ctx) + ", dim " + std::to_string(Ca) + ")");
  return KvCache(layers, slots, c.ctx, Ca);
}
}  // namespace

Decoder::Decoder(const GPTConfig& cfg, std::span<const float> params, int slots)
    : Decoder(ShardTable(cfg, ShardLayout::whole(cfg)), params, slots, {}) {}

Decoder::Decoder(const ShardTable& shards, std::span<const float> params, int slots,
                 TensorSplit split)
    : shards_(shards), params_(params), split_(std::move(split)), cache_(checked(shards, slots)) {
  if (params.size() != shards_.total())
    throw UsageError("decoder: the parameter arena has " + std::to_string(params.size()) +
                     " floats, the model needs " + std::to_string(shards_.total()));
  if (layout().tp > 1 && !split_.allreduce)
    throw UsageError("decoder: a tensor-parallel shard needs an allreduce");
}

void Decoder::check(std::span<const Feed> feeds) const {
  const auto& c = config();
  std::vector<char> used(cache_.slots(), 0);
  for (const Feed& f : feeds) {
    const int n = static_cast<int>(f.tokens.size());
    if (f.slot < 0 || f.slot >= cache_.slots() || used[f.slot]++)
      throw UsageError("decoder: feed slot " + std::to_string(f.slot) + " is invalid or repeated");
    if (n < 1 || f.pos < 0 || f.pos + n > c.ctx)
      throw UsageError("decoder: " + std::to_string(n) + " tokens at position " +
                       std::to_string(f.pos) + " do not fit ctx " + std::to_string(c.ctx));
    for (int32_t t : f.tokens)
      if (t < 0 || t >= c.vocab)
        throw UsageError("decoder: token " + std::to_string(t) + " is outside the vocabulary");
  }
}

void Decoder::resize(int N, int F, int max_keys) {
  const auto& c = config();
  const size_t n = N, C = c.dim, tp = layout().tp;
  for (auto* v : {&x_, &ln_, &proj_, &resid_}) v->resize(n * C);
  atty_.resize(n * C / tp);
  qkv_.resize(n * 3 * C / tp);
  fch_.resize(n * 4 * C / tp);
  gelu_.resize(n * 4 * C / tp);
  mean_.resize(n);
  rstd_.resize(n);
  att_.resize(static_cast<size_t>(max_keys) * c.ctx);
  last_.resize(size_t(F) * C);
  lnf_.resize(size_t(F) * C);
  lnf_mean_.resize(F);
  lnf_rstd_.resize(F);
  logits_.resize(size_t(F) * c.padded_vocab());
}

// x_ [N,C] <- block(x_), appending each feed's keys and values to its slot. With
// tensor parallelism this rank's qkv rows are [3Ca] (its heads' q | k | v) and its MLP
// [H] hidden units; each row-parallel product is a partial sum that the tensor group's
// allreduce closes, its bias added by one rank (model/block.h's TensorSplit).
void Decoder::block(int l, std::span<const Feed> feeds, int N) {
  const int C = config().dim, tp = layout().tp, Ca = C / tp, H = 4 * C / tp;
  const int NHl = config().heads / tp;
  const size_t NC = size_t(N) * C;
  const auto w = block_view(shards_, params_, l);
  const int cl = l - layout().layer_begin;  // the cache's layer
  const auto close = [&](float* v) {
    if (tp > 1) split_.allreduce(v, NC);
  };
  const auto bias = [&](const float* b) { return tp == 1 || split_.adds_bias ? b : nullptr; };
  k::layernorm_forward(ln_.data(), mean_.data(), rstd_.data(), x_.data(), w.ln1_w, w.ln1_b, N, C);
  k::matmul_forward(qkv_.data(), ln_.data(), w.qkv_w, w.qkv_b, N, C, 3 * Ca);  // [N,3Ca]
  size_t row = 0;
  for (const Feed& f : feeds) {
    const int n = static_cast<int>(f.tokens.size());
    float* kc = cache_.k(cl, f.slot);  // [ctx,Ca]
    float* vc = cache_.v(cl, f.slot);
    for (int i = 0; i < n; i++) {
      const float* r = qkv_.data() + (row + i) * 3 * Ca;  // q | k | v
      std::copy(r + Ca, r + 2 * Ca, kc + size_t(f.pos + i) * Ca);
      std::copy(r + 2 * Ca, r + 3 * Ca, vc + size_t(f.pos + i) * Ca);
    }
    k::attention_cached_forward(atty_.data() + row * Ca, Ca, att_.data(),
                                qkv_.data() + row * 3 * Ca, 3 * Ca, kc, vc, n, f.pos, Ca, NHl);
    row += n;
  }
  k::matmul_forward(proj_.data(), atty_.data(), w.attproj_w, bias(w.attproj_b), N, Ca, C);
  close(proj_.data());
  k::residual_forward(resid_.data(), x_.data(), proj_.data(), NC);
  k::layernorm_forward(ln_.data(), mean_.data(), rstd_.data(), resid_.data(), w.ln2_w, w.ln2_b,
                       N, C);
  k::matmul_forward(fch_.data(), ln_.data(), w.fc_w, w.fc_b, N, C, H);
  k::gelu_forward(gelu_.data(), fch_.data(), size_t(N) * H);
  k::matmul_forward(proj_.data(), gelu_.data(), w.fcproj_w, bias(w.fcproj_b), N, H, C);
  close(proj_.data());
  k::residual_forward(x_.data(), resid_.data(), proj_.data(), NC);
}

void Decoder::step(std::span<const Feed> feeds, const float* x, bool with_head) {
  check(feeds);
  const auto& c = config();
  const ShardLayout& L = layout();
  const int C = c.dim, F = static_cast<int>(feeds.size());
  if (L.first == (x != nullptr))
    throw UsageError(L.first ? "decoder: the first stage embeds tokens, it takes no rows"
                             : "decoder: a later stage needs the previous stage's rows");
  int N = 0, max_n = 0;
  for (const Feed& f : feeds) {
    N += static_cast<int>(f.tokens.size());
    max_n = std::max(max_n, static_cast<int>(f.tokens.size()));
  }
  if (F == 0) return;
  resize(N, F, max_n);
  if (L.first) {  // embeddings: row i of a feed is wte[token] + wpe[pos + i]
    const float* wte = at(params_, shards_.wte().local);
    const float* wpe = at(params_, shards_.wpe().local);
    size_t row = 0;
    for (const Feed& f : feeds) {
      const int n = static_cast<int>(f.tokens.size());
      k::encoder_forward(x_.data() + row * C, f.tokens.data(), wte, wpe + size_t(f.pos) * C, 1,
                         n, C);
      row += n;
    }
  } else {
    std::copy_n(x, size_t(N) * C, x_.data());
  }
  for (int l = L.layer_begin; l < L.layer_end; ++l) block(l, feeds, N);
  if (L.last && with_head) head(feeds);
}

// The head, on each feed's last row only: ln_f, then the tied wte^T.
void Decoder::head(std::span<const Feed> feeds) {
  const auto& c = config();
  const int C = c.dim, F = static_cast<int>(feeds.size());
  size_t row = 0;
  for (int fi = 0; fi < F; ++fi) {
    row += feeds[fi].tokens.size();
    std::copy_n(x_.data() + (row - 1) * C, C, last_.data() + size_t(fi) * C);
  }
  k::layernorm_forward(lnf_.data(), lnf_mean_.data(), lnf_rstd_.data(), last_.data(),
                       at(params_, shards_.lnf_w().local), at(params_, shards_.lnf_b().local),
                       F, C);
  k::matmul_forward<float>(logits_.data(), lnf_.data(), at(params_, shards_.wte().local), nullptr,
                           F, C, c.padded_vocab());
}

const float* Decoder::logits(int f) const {
  return logits_.data() + size_t(f) * config().padded_vocab();
}

void Decoder::submit(int group, std::span<const Feed> feeds) {
  if (!layout().first || !layout().last)
    throw UsageError("decoder: submit needs the whole model (one stage)");
  step(feeds);
  submitted_ = group;
}

int Decoder::collect() {
  if (submitted_ < 0) throw UsageError("decoder: collect without a submitted pass");
  const int g = submitted_;
  submitted_ = -1;
  return g;
}

}  // namespace plait::infer
