// The GPT-2 architecture's sizes (docs/ARCHITECTURE.md, "The model"). The vocabulary
// is the tokenizer's (bytes: 256; GPT-2 BPE: 50257); the embedding has padded_vocab() rows.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace plait {

struct GPTConfig {
  int vocab = 256;  // V: the tokenizer's ids are [0, V)
  int ctx = 128;    // T: maximum sequence length (rows of wpe)
  int layers = 4;   // L: transformer blocks
  int dim = 256;    // C: channels
  int heads = 4;    // NH: attention heads; head size hs = C / NH

  int head_dim() const { return dim / heads; }
  // Vp: rows of wte and columns of the logits, V rounded up to a multiple of 64 (as
  // nanoGPT's 50304); the padding ids never occur, are masked out of the loss and
  // never sampled, so their rows get no gradient from the loss.
  int padded_vocab() const { return (vocab + 63) / 64 * 64; }
  // Throws UsageError naming the offending field when a size is impossible.
  void validate() const;
  // {"vocab":..,"ctx":..,"layers":..,"dim":..,"heads":..}
  nlohmann::json to_json() const;
  static GPTConfig from_json(const nlohmann::json& j);  // validates
  bool operator==(const GPTConfig&) const = default;
};

}  // namespace plait
