// Hugging Face's GPT-2 naming, which the import (weights.h) and the export (export.h)
// share: HF's names are plait's (nanoGPT's) without the "transformer." prefix, and HF
// stores four weights as Conv1D, [in, out] (plait: [out, in]).
#pragma once
#include <string>

namespace plait::hf {

inline constexpr const char* kPrefix = "transformer.";

// attn.c_attn, attn.c_proj, mlp.c_fc and mlp.c_proj weights: transposed in HF's files.
inline bool conv1d_weight(const std::string& name) {
  return name.ends_with(".attn.c_attn.weight") || name.ends_with(".attn.c_proj.weight") ||
         name.ends_with(".mlp.c_fc.weight") || name.ends_with(".mlp.c_proj.weight");
}

}  // namespace plait::hf
