// Choosing the next token from the logits, with the options users expect:
//   repetition penalty (CTRL, Keskar et al. 2019, as Hugging Face applies it): the
//     logit of every id already in the sequence (prompt included) is divided by p
//     when positive, multiplied by p when negative; 1 = off;
//   temperature: logits / T; 0 = greedy (argmax; ties: the lowest id);
//   top-k: only the k likeliest ids (0 = all);
//   top-p (nucleus): only the smallest set of likeliest ids whose probabilities sum
//     to at least p (1 = all); always at least one id;
// in that order, then one draw u ~ U[0,1) from the sequence's own generator. The
// generator is seeded by the request alone, so a request's tokens do not depend on
// what else is in the batch: reproducible for a fixed seed.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "util/rng.h"

namespace plait::infer {

struct SamplingParams {
  float temperature = 0.8f;
  int top_k = 0;
  float top_p = 1.0f;
  float repetition_penalty = 1.0f;
  uint64_t seed = 42;

  // UsageError (one line, naming the option with `prefix`, e.g. "--" or "") when a
  // value is NaN, infinite or out of range.
  void validate(const std::string& prefix = "--") const;
};

// Picks a token among logits[0, V) (`logits` may be longer: padding columns are never
// picked). `history` is the sequence so far (for the repetition penalty); `scratch`
// is reused between calls.
int32_t pick_token(std::span<const float> logits, int V, const SamplingParams& p,
                   std::span<const int32_t> history, Rng& rng, std::vector<float>& scratch);

}  // namespace plait::infer
