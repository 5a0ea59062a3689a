// The largest model sizes plait accepts, from flags (cli/flag_ranges.cpp) or from a
// file's config (GPTConfig::validate), checked before anything is allocated; whether
// a model fits in memory is checked separately (util/machine.h). Far past GPT-3 (96
// layers, 12288 channels, 96 heads, 2048 context, 50257 ids), and small enough that
// the products of them that size arrays fit in 64 bits.
#pragma once

namespace plait {

struct GPTLimits {
  static constexpr int layers = 1024;
  static constexpr int dim = 65536;
  static constexpr int heads = 1024;
  static constexpr int ctx = 1 << 20;
  static constexpr int vocab = 1 << 24;
};

}  // namespace plait
