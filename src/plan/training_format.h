// The numeric format of training and what it implies for memory: bytes per parameter
// for weights, gradients and optimizer state, and bytes of saved activations.
//
//   mixed  (Megatron-LM on GPUs): fp16/bf16 weights (2) and gradients (2), fp32 master
//          weights and two Adam moments (4 + 4 + 4) = 16 bytes per parameter
//          (Rajbhandari et al. 2020, ZeRO, §3.1). Activations per layer per token from
//          Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large
//          Transformer Models", §4.1, eq. 2 with dropout masks), with t-way tensor
//          parallelism and no sequence parallelism:
//            bytes = 10h + 24h/t + 5·a·s/t
//   fp32   (plait's own trainer on CPUs): 4-byte weights, gradients and two moments =
//          16 bytes per parameter; a block saves ln1, ln2, resid2, out (4h, replicated
//          under tensor parallelism), qkv, atty, fch, fch_gelu (12h, split) and the
//          attention probabilities (a·s per token, split), 4 bytes each
//          (model/block.h, BlockActivations):
//            bytes = 16h + 48h/t + 4·a·s/t
// With full recomputation a layer keeps only its input: h elements per token.
//
// Attention work: Megatron-LM computes the whole s×s score square; plait's kernel
// (tensor/attention.cpp) cuts rows into blocks of 32 and skips the blocks above the
// diagonal, computing (n+1)/(2n) of the square for n = ceil(s/32) blocks.
#pragma once
#include <string>

namespace plait::plan {

enum class Format { mixed, fp32 };

struct FormatBytes {
  double weight;  // the copy the kernels read
  double grad;
  double optimizer;             // master weights (mixed) and the two Adam moments
  double element;               // one activation element
  double act_replicated_per_h;  // activation bytes per token per layer: r·h + (x·h + y·a·s)/t
  double act_split_per_h;
  double act_per_score;
};

FormatBytes format_bytes(Format f);
const char* to_string(Format f);
Format parse_format(const std::string& name);  // "mixed" | "fp32", else UsageError

// Share of the s×s attention products the format's trainer computes.
double attention_work_fraction(Format f, int ctx);

}  // namespace plait::plan
