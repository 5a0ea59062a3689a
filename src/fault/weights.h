// A GPT-2 model's weights from any file plait reads, in plait's own names and
// orientation (nanoGPT names, weights [out, in]; model/params.h), whatever the source:
//
//   plait checkpoint   a run or checkpoint directory, written by any layout (shards are
//                      assembled: fault/checkpoint.h)
//   Hugging Face       GPT-2 `model.safetensors`: names `h.N.attn.c_attn.weight`,
//                      `wte.weight`, ... (or the same under `transformer.`), the four
//                      Conv1D weights (attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj)
//                      stored [in, out], the LM head tied to wte (`lm_head.weight`
//                      absent, or equal to wte); the causal-mask buffers
//                      `h.N.attn.bias` / `h.N.attn.masked_bias` are ignored
//   nanoGPT            `transformer.*` names, weights [out, in], `lm_head.weight`
//                      absent or equal to wte
//   a plait file       a checkpoint's model.safetensors on its own (nanoGPT layout)
//
// A file may be F32, F16 or BF16 (converted to F32 exactly). The orientation is read
// from `attn.c_attn.weight` of block 0 ([C, 3C]: Conv1D, [3C, C]: Linear), so it never
// depends on a file name. The model config comes from the file's __metadata__ (plait's
// `layers`, `dim`, `heads`, `ctx`, `vocab`), else from `config.json` beside the file
// (GPT2Config: n_layer, n_embd, n_head, n_positions, vocab_size; the architecture
// fields are checked: GELU tanh, LayerNorm eps 1e-5, tied embeddings, no cross
// attention), else from the shapes when nothing but the head count is unknown (an
// error then, naming what is missing).
//
// Opening checks every tensor: each one of the model is present with its shape in the
// source's orientation; no tensor is left over; dtypes are supported. Every problem is
// a one-line UsageError naming the file and the tensor.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fault/checkpoint.h"
#include "fault/safetensors.h"
#include "model/config.h"
#include "model/params.h"
#include "model/shard_table.h"

namespace plait {

enum class WeightFormat { plait_checkpoint, hf, nanogpt };
const char* weight_format_name(WeightFormat f);  // "plait checkpoint", "hf", "nanogpt"

class WeightSource {
 public:
  // PATH: a run or checkpoint directory; a directory holding model.safetensors (and
  // config.json) but no manifest.json; or a .safetensors file.
  static WeightSource open(const std::filesystem::path& path);

  const GPTConfig& config() const { return cfg_; }
  WeightFormat format() const { return format_; }
  // The checkpoint directory or the file: what messages name.
  const std::filesystem::path& where() const { return where_; }
  // The dtype of the file's tensors (a checkpoint: F32); the widest if they differ.
  safetensors::DType dtype() const { return dtype_; }
  const LoadedCheckpoint* checkpoint() const { return ckpt_ ? &*ckpt_ : nullptr; }

  // The box [begin, end) of tensor `name` (plait's name; full shape as ParamTable(config())
  // has it, [out, in] for weights) into `out`, row-major, converted to F32.
  void read_box(const std::string& name, const std::vector<int64_t>& begin,
                const std::vector<int64_t>& end, std::span<float> out) const;
  // The whole tensor (shape: ParamTable(config())'s).
  std::vector<float> read(const std::string& name) const;

 private:
  struct Stored {         // where a plait tensor is in the file
    std::string key;      // its key there
    bool transposed = false;  // stored [in, out] (Hugging Face Conv1D)
  };
  void open_file(const std::filesystem::path& file);
  void map_keys();
  void choose_config(const std::filesystem::path& config_json);
  void check_tensors();
  void check_tied_head() const;
  [[noreturn]] void bad(const std::string& problem) const;
  // Rows [r0, r1) of the file tensor `key`, converted to F32 into out.
  void read_rows(const std::string& key, int64_t r0, int64_t r1, std::span<float> out) const;

  GPTConfig cfg_;
  WeightFormat format_ = WeightFormat::plait_checkpoint;
  safetensors::DType dtype_ = safetensors::DType::F32;
  std::filesystem::path where_;
  std::optional<LoadedCheckpoint> ckpt_;
  std::unique_ptr<safetensors::Reader> file_;
  std::map<std::string, Stored> stored_;  // plait name -> its place in the file
  std::string head_key_;                  // "lm_head.weight" if present
};

// Copies the source's weights into a model arena laid out by `table` / this rank's
// `shard` table. The model's config must equal the source's, except that its ctx may
// be smaller (the first ctx rows of wpe are taken: fine-tuning at a shorter context).
// UsageError naming the source and the difference otherwise.
void read_weights(const WeightSource& src, const ParamTable& table, std::span<float> arena);
void read_weights(const WeightSource& src, const ShardTable& shard, std::span<float> arena);

// Whether `model` can take the source's weights (see read_weights); "" if so, else
// the reason, naming the field.
std::string weights_mismatch(const GPTConfig& source, const GPTConfig& model);

}  // namespace plait
