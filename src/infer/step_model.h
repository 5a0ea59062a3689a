// What the generation engine (infer/engine.h) steps: a forward pass over a list of
// feeds that gives, for each feed, the logits after its last token. A model that
// computes at once (infer/decoder.h) has one group; a pipeline of stages
// (infer/mesh_decoder.h) has several, each a micro-batch of sequences that is in
// flight on some stage while the engine samples the tokens of another.
//
// Groups: slot s belongs to group s % groups(). A pass is the feeds of one group
// (distinct slots of that group); at most one pass per group is in flight, and passes
// complete in the order they were submitted.
#pragma once
#include <cstdint>
#include <span>

#include "model/config.h"

namespace plait::infer {

struct Feed {
  int slot = 0;                      // cache slot of the sequence
  std::span<const int32_t> tokens;   // the new tokens, n >= 1, ids in [0, V)
  int pos = 0;                       // position of tokens[0]; pos + n <= ctx
};

class StepModel {
 public:
  virtual ~StepModel() = default;
  virtual const GPTConfig& config() const = 0;
  virtual int slots() const = 0;
  virtual int groups() const { return 1; }
  // Starts group g's pass; the feeds' token spans must stay alive until collect()
  // returns g. UsageError when a feed does not fit.
  virtual void submit(int group, std::span<const Feed> feeds) = 0;
  // Waits for the oldest submitted pass and returns its group; logits(f) then holds
  // the logits after its feed f's last token, [Vp] (only [0, V) are ids), until the
  // next collect().
  virtual int collect() = 0;
  virtual const float* logits(int f) const = 0;
};

}  // namespace plait::infer
