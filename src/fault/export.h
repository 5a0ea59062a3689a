// One consolidated weights file from any WeightSource (a checkpoint of any layout, or
// a file), in the names and orientation another program loads as it is:
//
//   hf       Hugging Face GPT-2 (GPT2LMHeadModel.from_pretrained(DIR)): `wte.weight`,
//            `wpe.weight`, `h.N.ln_1.weight`, ..., `ln_f.bias`; the four Conv1D weights
//            (attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj) transposed to [in, out];
//            no lm_head (tied to wte)
//   nanogpt  nanoGPT's state_dict: `transformer.*` names, weights [out, in], plus
//            `lm_head.weight` (a copy of wte, as nanoGPT's tied state_dict lists it,
//            so `load_state_dict` accepts the file strictly)
//
// Both carry `format: pt` and plait's config (`layers`, `dim`, `heads`, `ctx`, `vocab`)
// in __metadata__, so plait re-imports a lone file. Into a directory the export also
// writes `config.json` (GPT2Config fields; nanoGPT's `block_size`, `bias`, `dropout`
// too for nanogpt) and the tokenizer's files.
//
// Streaming: the header is written first (every offset follows from the shapes), then
// one tensor at a time is read, transposed if needed and converted; memory stays at a
// few times the largest tensor (wte), whatever the model's size. The file is written
// under a temporary name, fsynced and renamed: a failed export leaves no partial file.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fault/safetensors.h"
#include "fault/weights.h"

namespace plait {

enum class ExportFormat { hf, nanogpt };

struct ExportOptions {
  ExportFormat format = ExportFormat::hf;
  safetensors::DType dtype = safetensors::DType::F32;  // F32, BF16 or F16
  // A path ending in ".safetensors": that file alone. Anything else: a directory
  // (created) receiving model.safetensors, config.json and the tokenizer files.
  std::filesystem::path out;
  // The tokenizer's files to write beside the weights (name -> contents; none for the
  // byte tokenizer); plait_tokenizer.json names the type and the files either way.
  std::map<std::string, std::string> tokenizer_files;
  std::string tokenizer_type = "bytes";
};

struct ExportResult {
  std::vector<std::filesystem::path> files;  // written, weights file first
  int64_t tensors = 0;
  uint64_t bytes = 0;         // of the weights file
  size_t peak_floats = 0;     // the largest tensor buffer held at once
};

// The tensor names and shapes the export writes, in order (hf: Conv1D shapes).
std::vector<safetensors::TensorSpec> export_specs(const GPTConfig& cfg, ExportFormat format,
                                                  safetensors::DType dtype);

// The GPT2Config of `cfg` as config.json holds it.
nlohmann::json hf_config(const GPTConfig& cfg, ExportFormat format, safetensors::DType dtype);

ExportResult export_weights(const WeightSource& src, const ExportOptions& opt);

}  // namespace plait
