// Activation recomputation (`plait train --recompute`, docs/MEMORY.md): what a block
// keeps between its forward and its backward pass, and what the backward pass computes
// again. Every mode gives bit-identical results: the same kernels recompute the same
// values from the same kept inputs.
//
//   none       every activation the backward pass reads (model/block.h's
//              BlockActivations): 16 C + 4 floats per token and NH x T attention
//              probabilities per token (the T x T part)
//   selective  all but the attention probabilities (Korthikanti et al. 2022's
//              "selective": the attention core); the backward pass recomputes them from
//              the kept q, k, v into one buffer shared by the stage's blocks
//   block      only each block's output (the next block's input, so every block's
//              input is kept); the backward pass runs the block's forward again into one
//              set of full activations shared by the stage's blocks (Megatron's "full")
#pragma once
#include <string>

namespace plait {

enum class Recompute { none, selective, block };

const char* to_string(Recompute r);  // "none" | "selective" | "block"
// "none", "selective", "block"; else UsageError naming `flag`.
Recompute parse_recompute(const std::string& text, const std::string& flag = "--recompute");

}  // namespace plait
