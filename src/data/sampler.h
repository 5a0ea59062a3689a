// The deterministic global-batch sampler (docs/ARCHITECTURE.md, "One training step",
// step 1). The global batch of step s is a pure function of (seed, s):
//
//   offset(s, j) = sequence_hash(seed, s, j) mod (train_len - ctx)
//   inputs[j]  = train[offset     .. offset + ctx)       ctx tokens
//   targets[j] = train[offset + 1 .. offset + ctx + 1)   the same, shifted by one
//
// for sequence j in [0, global_batch). The largest offset is train_len - ctx - 1, so
// the last target byte read is train[train_len - 1]: a window never leaves the split.
//
// Nothing depends on who asks or in which order, so a worker fetches any slice
// [first_seq, first_seq + count) of the global batch and every split of the batch
// across workers (equal, proportional to speed, or one worker taking all) sees
// exactly the same sequences; resuming needs only the step number.
//
// sequence_hash chains splitmix64 (Steele, Lea & Flood, "Fast splittable
// pseudorandom number generators", 2014; the finaliser of Java's SplittableRandom):
// a bijective 64-bit mixer with full avalanche, applied once per input word, so
// neighbouring steps, sequences and seeds give unrelated offsets. The modulo bias is
// at most (train_len - ctx) / 2^64: negligible for any corpus.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "data/tokens.h"

namespace plait::data {

uint64_t sequence_hash(uint64_t seed, uint64_t step, uint64_t seq);

class Sampler {
 public:
  // The training split's tokens (shared with the caller: a view, or shard files
  // read only where the sequences are). Throws UsageError when ctx < 1 or train has
  // fewer than ctx+1 tokens.
  Sampler(Tokens train, int ctx, uint64_t seed);
  // A byte split that must outlive the sampler (a Corpus's train()).
  Sampler(std::span<const uint8_t> train, int ctx, uint64_t seed)
      : Sampler(Tokens::view_bytes(train), ctx, seed) {}

  int ctx() const { return ctx_; }
  uint64_t seed() const { return seed_; }
  // Number of distinct start offsets: train_len - ctx.
  int64_t num_offsets() const { return train_.size() - ctx_; }

  // Start of sequence `seq` of step `step` in the train split, in [0, num_offsets()).
  int64_t offset(int64_t step, int64_t seq) const;

  // Sequences [first_seq, first_seq + count) of step `step`, row-major:
  //   inputs  [count, ctx]  token ids
  //   targets [count, ctx]  targets[i][t] == inputs[i][t + 1] for t < ctx - 1
  // Throws std::invalid_argument on a negative step, first_seq or count.
  void fill(int64_t step, int64_t first_seq, int64_t count, int32_t* inputs,
            int32_t* targets) const;

 private:
  Tokens train_;
  int ctx_;
  uint64_t seed_;
};

// A batch with its own storage, for callers that do not manage buffers.
struct Batch {
  int64_t count = 0;  // sequences
  int ctx = 0;
  std::vector<int32_t> inputs;   // [count, ctx]
  std::vector<int32_t> targets;  // [count, ctx]
};

Batch sample_batch(const Sampler& sampler, int64_t step, int64_t first_seq, int64_t count);

}  // namespace plait::data
