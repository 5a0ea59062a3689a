// What is trained: the GPT-2 architecture's sizes plus the training recipe's global
// batch. Presets for the local demo sizes and the published GPT-2 / GPT-3 models;
// any other model from a JSON file.
#pragma once
#include <string>
#include <vector>

namespace plait::plan {

struct ModelSpec {
  std::string name;
  int layers = 4;   // L
  int dim = 256;    // h (C)
  int heads = 4;    // a
  int ctx = 128;    // s: sequence length trained on
  int vocab = 256;  // V
  int batch = 16;   // global batch, sequences per optimizer step

  // Parameter count: V·h + s·h (embeddings) + L·(12h² + 13h) (blocks) + 2h (ln_f).
  double params() const;
  // Throws UsageError naming `where` and the field when a size is impossible.
  void validate(const std::string& where) const;
};

// "demo", "small", "gpt2-124m", "gpt2-350m", "gpt2-1.5b", "gpt3-175b"; nullptr if unknown.
const ModelSpec* find_model_preset(const std::string& name);
std::vector<std::string> model_preset_names();

// A preset name, or a JSON file {"layers":96,"dim":12288,"heads":96,"ctx":2048,
// "vocab":50257,"batch":1536[,"name":"..."]} (vocab, batch, name optional).
// Bad files throw UsageError naming the file and the field.
ModelSpec load_model(const std::string& name_or_file);

}  // namespace plait::plan
