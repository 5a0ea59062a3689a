// What is trained: a decoder-only transformer's sizes and shape (GPT-2 by default;
// the variants later models use: untied embeddings, another MLP width, gated MLPs,
// rotary or no learned positions, fewer key/value heads) plus the training recipe's
// global batch. Presets for the local demo sizes and published models; any other
// model from a JSON file.
#pragma once
#include <string>
#include <vector>

namespace plait::plan {

enum class Positions { learned, rotary, alibi };  // only learned ones are parameters
const char* to_string(Positions p);

struct ModelSpec {
  std::string name;
  int layers = 4;   // L
  int dim = 256;    // h (C)
  int heads = 4;    // a
  int ctx = 128;    // s: sequence length trained on
  int vocab = 256;  // V
  int batch = 16;   // global batch, sequences per optimizer step
  // Shape beyond GPT-2 (defaults: GPT-2's).
  int ffn = 0;                  // MLP hidden width f; 0: 4h
  bool gated_mlp = false;       // SwiGLU: gate and up (h -> f each), down (f -> h)
  int kv_heads = 0;             // key/value heads (GQA when < heads); 0: heads
  bool tied_embeddings = true;  // the LM head is the token embedding
  Positions positions = Positions::learned;

  int ffn_dim() const { return ffn > 0 ? ffn : 4 * dim; }
  int kv_heads_count() const { return kv_heads > 0 ? kv_heads : heads; }
  int head_dim() const { return dim / heads; }
  int kv_dim() const { return kv_heads_count() * head_dim(); }  // width of K (and of V)
  // Weights of one block's matrices: qkv h·(h + 2·kv), projection h², MLP (2 or 3)·h·f.
  double block_matrix_params() const;
  // One block: matrices, their biases, two layer norms (4h).
  double block_params() const;
  // Parameter count: V·h (×2 untied) + s·h (learned positions) + L·block + 2h (ln_f).
  // GPT-2: V·h + s·h + L·(12h² + 13h) + 2h.
  double params() const;
  // Throws UsageError naming `where` and the field when a size is impossible.
  void validate(const std::string& where) const;
};

// "tiny", "demo", "gpt2-*", "gpt3-175b" and the published runs of docs/PLANNER.md
// ("megatron-*", "bloom-176b", "opt-175b", "mt-nlg-530b", "llama-65b"); nullptr if unknown.
const ModelSpec* find_model_preset(const std::string& name);
std::vector<std::string> model_preset_names();

// A preset name, or a JSON file {"layers":96,"dim":12288,"heads":96,"ctx":2048,
// "vocab":50257,"batch":1536[,"name","ffn","mlp":"gelu"|"swiglu","kv_heads",
// "tied_embeddings","positions":"learned"|"rotary"|"alibi"]} (all but the first four
// optional). Bad files throw UsageError naming the file and the field.
ModelSpec load_model(const std::string& name_or_file);

}  // namespace plait::plan
