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
// The cache, after checking that it fits in memory (one line instead of bad_alloc).
KvCache checked(const GPTConfig& c, int slots) {
  if (slots < 1) throw UsageError("decoder: at least one sequence slot is needed");
  const double bytes = 2.0 * sizeof(float) * c.layers * double(slots) * c.ctx * c.dim;
  require_memory(bytes, "the key/value cache of " + std::to_string(slots) +
                            " sequences (layers " + std::to_string(c.layers) + ", ctx " +
                            std::to_string(c.ctx) + ", dim " + std::to_string(c.dim) + ")");
  return KvCache(c.layers, slots, c.ctx, c.dim);
}
}  // namespace

Decoder::Decoder(const GPTConfig& cfg, std::span<const float> params, int slots)
    : table_(cfg), params_(params), cache_(checked(cfg, slots)) {
  if (params.size() != table_.total())
    throw UsageError("decoder: the parameter arena has " + std::to_string(params.size()) +
                     " floats, the model needs " + std::to_string(table_.total()));
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
  const size_t n = N, C = c.dim;
  for (auto* v : {&x_, &ln_, &atty_, &proj_, &resid_}) v->resize(n * C);
  qkv_.resize(n * 3 * C);
  fch_.resize(n * 4 * C);
  gelu_.resize(n * 4 * C);
  mean_.resize(n);
  rstd_.resize(n);
  att_.resize(static_cast<size_t>(max_keys) * c.ctx);
  last_.resize(size_t(F) * C);
  lnf_.resize(size_t(F) * C);
  lnf_mean_.resize(F);
  lnf_rstd_.resize(F);
  logits_.resize(size_t(F) * c.padded_vocab());
}

// x_ [N,C] <- block(x_), appending each feed's keys and values to its slot.
void Decoder::block(int l, std::span<const Feed> feeds, int N) {
  const int C = config().dim, NH = config().heads;
  const size_t NC = size_t(N) * C;
  const auto w = block_view(table_, params_, l);
  k::layernorm_forward(ln_.data(), mean_.data(), rstd_.data(), x_.data(), w.ln1_w, w.ln1_b, N, C);
  k::matmul_forward(qkv_.data(), ln_.data(), w.qkv_w, w.qkv_b, N, C, 3 * C);  // [N,3C]
  size_t row = 0;
  for (const Feed& f : feeds) {
    const int n = static_cast<int>(f.tokens.size());
    float* kc = cache_.k(l, f.slot);  // [ctx,C]
    float* vc = cache_.v(l, f.slot);
    for (int i = 0; i < n; i++) {
      const float* r = qkv_.data() + (row + i) * 3 * C;  // q | k | v
      std::copy(r + C, r + 2 * C, kc + size_t(f.pos + i) * C);
      std::copy(r + 2 * C, r + 3 * C, vc + size_t(f.pos + i) * C);
    }
    k::attention_cached_forward(atty_.data() + row * C, C, att_.data(),
                                qkv_.data() + row * 3 * C, 3 * C, kc, vc, n, f.pos, C, NH);
    row += n;
  }
  k::matmul_forward(proj_.data(), atty_.data(), w.attproj_w, w.attproj_b, N, C, C);
  k::residual_forward(resid_.data(), x_.data(), proj_.data(), NC);
  k::layernorm_forward(ln_.data(), mean_.data(), rstd_.data(), resid_.data(), w.ln2_w, w.ln2_b,
                       N, C);
  k::matmul_forward(fch_.data(), ln_.data(), w.fc_w, w.fc_b, N, C, 4 * C);
  k::gelu_forward(gelu_.data(), fch_.data(), size_t(N) * 4 * C);
  k::matmul_forward(proj_.data(), gelu_.data(), w.fcproj_w, w.fcproj_b, N, 4 * C, C);
  k::residual_forward(x_.data(), resid_.data(), proj_.data(), NC);
}

void Decoder::step(std::span<const Feed> feeds) {
  check(feeds);
  const auto& c = config();
  const int C = c.dim, F = static_cast<int>(feeds.size()), Vp = c.padded_vocab();
  int N = 0, max_n = 0;
  for (const Feed& f : feeds) {
    N += static_cast<int>(f.tokens.size());
    max_n = std::max(max_n, static_cast<int>(f.tokens.size()));
  }
  if (F == 0) return;
  resize(N, F, max_n);
  // embeddings: row i of a feed is wte[token] + wpe[pos + i]
  const float* wte = at(params_, table_.wte());
  const float* wpe = at(params_, table_.wpe());
  size_t row = 0;
  for (const Feed& f : feeds) {
    const int n = static_cast<int>(f.tokens.size());
    k::encoder_forward(x_.data() + row * C, f.tokens.data(), wte, wpe + size_t(f.pos) * C, 1,
                       n, C);
    row += n;
  }
  for (int l = 0; l < c.layers; ++l) block(l, feeds, N);
  // the head, on each feed's last row only
  row = 0;
  for (int fi = 0; fi < F; ++fi) {
    row += feeds[fi].tokens.size();
    std::copy_n(x_.data() + (row - 1) * C, C, last_.data() + size_t(fi) * C);
  }
  k::layernorm_forward(lnf_.data(), lnf_mean_.data(), lnf_rstd_.data(), last_.data(),
                       at(params_, table_.lnf_w()), at(params_, table_.lnf_b()), F, C);
  k::matmul_forward<float>(logits_.data(), lnf_.data(), wte, nullptr, F, C, Vp);
}

const float* Decoder::logits(int f) const {
  return logits_.data() + size_t(f) * config().padded_vocab();
}

}  // namespace plait::infer
