#include "data/sampler.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "util/error.h"
#include "util/rng.h"

namespace plait::data {

// Each word is folded in and then mixed; splitmix64 is a bijection, so for a fixed
// prefix distinct last words give distinct hashes. The constant separates the seed
// from a plain splitmix64 stream seeded with the same number (util/rng.h).
uint64_t sequence_hash(uint64_t seed, uint64_t step, uint64_t seq) {
  uint64_t h = splitmix64(seed ^ 0x706c616974646174ULL);  // "plaitdat"
  h = splitmix64(h ^ step);
  return splitmix64(h ^ seq);
}

Sampler::Sampler(Tokens train, int ctx, uint64_t seed)
    : train_(std::move(train)), ctx_(ctx), seed_(seed) {
  if (ctx < 1)
    throw UsageError("context length (ctx) must be at least 1, got " + std::to_string(ctx));
  if (train_.size() < int64_t{ctx} + 1)
    throw UsageError("training split has " + std::to_string(train_.size()) + " tokens; ctx " +
                     std::to_string(ctx) + " needs at least ctx+1 = " + std::to_string(ctx + 1));
}

int64_t Sampler::offset(int64_t step, int64_t seq) const {
  if (step < 0 || seq < 0)
    throw std::invalid_argument("Sampler::offset: negative step or sequence index");
  uint64_t h = sequence_hash(seed_, static_cast<uint64_t>(step), static_cast<uint64_t>(seq));
  return static_cast<int64_t>(h % static_cast<uint64_t>(num_offsets()));
}

void Sampler::fill(int64_t step, int64_t first_seq, int64_t count, int32_t* inputs,
                   int32_t* targets) const {
  if (count < 0) throw std::invalid_argument("Sampler::fill: negative count");
  for (int64_t i = 0; i < count; ++i) {
    int32_t* in = inputs + i * ctx_;   // [ctx]
    int32_t* tg = targets + i * ctx_;  // [ctx]
    // tokens [offset, offset + ctx] : inputs are the first ctx, targets the last ctx
    const int64_t at = offset(step, first_seq + i);
    train_.read(at, ctx_, in);
    std::copy(in + 1, in + ctx_, tg);
    tg[ctx_ - 1] = train_.at(at + ctx_);
  }
}

Batch sample_batch(const Sampler& sampler, int64_t step, int64_t first_seq, int64_t count) {
  if (count < 0) throw std::invalid_argument("sample_batch: negative count");
  Batch b;
  b.count = count;
  b.ctx = sampler.ctx();
  b.inputs.resize(static_cast<size_t>(count * b.ctx));
  b.targets.resize(static_cast<size_t>(count * b.ctx));
  sampler.fill(step, first_seq, count, b.inputs.data(), b.targets.data());
  return b;
}

}  // namespace plait::data
