// The GPT-2 architecture's sizes (docs/ARCHITECTURE.md, "The model"). Byte-level: vocab is 256.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace plait {

struct GPTConfig {
  int vocab = 256;  // V
  int ctx = 128;    // T: maximum sequence length (rows of wpe)
  int layers = 4;   // L: transformer blocks
  int dim = 256;    // C: channels
  int heads = 4;    // NH: attention heads; head size hs = C / NH

  int head_dim() const { return dim / heads; }
  // Throws UsageError naming the offending field when a size is impossible.
  void validate() const;
  // {"vocab":..,"ctx":..,"layers":..,"dim":..,"heads":..}
  nlohmann::json to_json() const;
  static GPTConfig from_json(const nlohmann::json& j);  // validates
  bool operator==(const GPTConfig&) const = default;
};

}  // namespace plait
