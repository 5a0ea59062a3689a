#include "plan/model_spec.h"

#include <filesystem>

#include "plan/json_fields.h"
#include "util/error.h"

namespace plait::plan {
namespace {

ModelSpec shaped(ModelSpec m, int ffn, bool gated, bool tied, Positions pos) {
  m.ffn = ffn, m.gated_mlp = gated, m.tied_embeddings = tied, m.positions = pos;
  return m;
}

// Sources: GPT-2 sizes from Radford et al. 2019 (Table 2; batch 512 of 1024 tokens);
// GPT-3 175B from Brown et al. 2020 (Table 2.1: 96 layers, d_model 12288, 96 heads,
// n_ctx 2048, batch 3.2M tokens = 1536 sequences). "demo" is `plait bench train`'s
// configuration (issue 2); "tiny" the size the tests train. The rest are the published
// runs docs/PLANNER.md predicts (the planner is not fitted on them): Megatron-LM's
// weak-scaling models (Narayanan et al. 2021, Table 1: vocab 51200, ctx 2048); BLOOM
// (BigScience 2022: ALiBi, vocab 250880, batch 2048); OPT (Zhang et al. 2022, Table 1:
// batch 2M tokens); MT-NLG (Smith et al. 2022: batch 1920); LLaMA (Touvron et al.
// 2023, Table 2: SwiGLU of width 22016, rotary, untied, vocab 32000, batch 4M tokens).
const std::vector<ModelSpec>& presets() {
  static const std::vector<ModelSpec> list = {
      {"tiny", 2, 64, 2, 32, 256, 8},
      {"demo", 4, 256, 4, 128, 256, 16},
      {"gpt2-124m", 12, 768, 12, 1024, 50257, 512},
      {"gpt2-350m", 24, 1024, 16, 1024, 50257, 512},
      {"gpt2-1.5b", 48, 1600, 25, 1024, 50257, 512},
      {"gpt3-175b", 96, 12288, 96, 2048, 50257, 1536},
      {"megatron-1.7b", 24, 2304, 24, 2048, 51200, 512},
      {"megatron-3.6b", 30, 3072, 32, 2048, 51200, 512},
      {"megatron-7.5b", 36, 4096, 32, 2048, 51200, 512},
      {"megatron-18b", 40, 6144, 48, 2048, 51200, 1024},
      {"megatron-39b", 48, 8192, 64, 2048, 51200, 1536},
      {"megatron-76b", 60, 10240, 80, 2048, 51200, 1792},
      {"megatron-146b", 80, 12288, 96, 2048, 51200, 2304},
      {"megatron-310b", 96, 16384, 128, 2048, 51200, 2160},
      {"megatron-530b", 105, 20480, 128, 2048, 51200, 2520},
      {"megatron-1t", 128, 25600, 160, 2048, 51200, 3072},
      shaped({"bloom-176b", 70, 14336, 112, 2048, 250880, 2048}, 0, false, true, Positions::alibi),
      {"opt-175b", 96, 12288, 96, 2048, 50272, 1024},
      {"mt-nlg-530b", 105, 20480, 128, 2048, 50257, 1920},
      shaped({"llama-65b", 80, 8192, 64, 2048, 32000, 2048}, 22016, true, false,
             Positions::rotary),
  };
  return list;
}

Positions parse_positions(const std::string& s, const std::string& file) {
  if (s == "learned") return Positions::learned;
  if (s == "rotary") return Positions::rotary;
  if (s == "alibi") return Positions::alibi;
  throw UsageError(file + ": field 'positions' must be \"learned\", \"rotary\" or \"alibi\"");
}

bool bool_field(const nlohmann::json& j, const char* key, const std::string& file, bool fallback) {
  if (!j.contains(key)) return fallback;
  if (!j.at(key).is_boolean())
    throw UsageError(file + ": field '" + key + "' must be true or false");
  return j.at(key).get<bool>();
}

}  // namespace

const char* to_string(Positions p) {
  switch (p) {
    case Positions::learned:
      return "learned";
    case Positions::rotary:
      return "rotary";
    case Positions::alibi:
      return "alibi";
  }
  return "?";
}

double ModelSpec::block_matrix_params() const {
  const double h = dim, f = ffn_dim();
  return h * (h + 2.0 * kv_dim()) + h * h + (gated_mlp ? 3 : 2) * h * f;
}

double ModelSpec::block_params() const {
  const double h = dim, f = ffn_dim();
  const double biases = (h + 2.0 * kv_dim()) + h + (gated_mlp ? 2 : 1) * f + h;
  return block_matrix_params() + biases + 4 * h;
}

double ModelSpec::params() const {
  const double h = dim;
  const double embeddings = vocab * h * (tied_embeddings ? 1 : 2) +
                            (positions == Positions::learned ? ctx * h : 0);
  return embeddings + layers * block_params() + 2 * h;
}

void ModelSpec::validate(const std::string& where) const {
  auto need = [&](bool ok, const char* field, const char* why) {
    if (!ok) throw UsageError(where + ": field '" + field + "' " + why);
  };
  need(layers > 0, "layers", "must be > 0");
  need(dim > 0, "dim", "must be > 0");
  need(heads > 0, "heads", "must be > 0");
  need(dim % heads == 0, "heads", "must divide dim");
  need(ctx > 0, "ctx", "must be > 0");
  need(vocab > 0, "vocab", "must be > 0");
  need(batch > 0, "batch", "must be > 0");
  need(ffn >= 0, "ffn", "must be > 0");
  need(kv_heads >= 0 && kv_heads <= heads, "kv_heads", "must be in 1..heads");
  need(heads % kv_heads_count() == 0, "kv_heads", "must divide heads");
}

const ModelSpec* find_model_preset(const std::string& name) {
  for (const auto& m : presets())
    if (m.name == name) return &m;
  return nullptr;
}

std::vector<std::string> model_preset_names() {
  std::vector<std::string> names;
  for (const auto& m : presets()) names.push_back(m.name);
  return names;
}

ModelSpec load_model(const std::string& name_or_file) {
  if (const ModelSpec* p = find_model_preset(name_or_file)) return *p;
  if (!std::filesystem::exists(name_or_file)) {
    std::string names;
    for (const auto& n : model_preset_names()) names += (names.empty() ? "" : ", ") + n;
    throw UsageError("unknown model '" + name_or_file + "' (presets: " + names +
                     "; or a JSON file)");
  }
  const auto& f = name_or_file;
  const nlohmann::json j = read_json_file(f);
  const int vocab = 256, batch = 16, none = 0;
  ModelSpec m;
  m.name = string_field(j, "name", std::filesystem::path(f).stem().string());
  m.layers = positive_int_field(j, "layers", f, "layers");
  m.dim = positive_int_field(j, "dim", f, "dim");
  m.heads = positive_int_field(j, "heads", f, "heads");
  m.ctx = positive_int_field(j, "ctx", f, "ctx");
  m.vocab = positive_int_field(j, "vocab", f, "vocab", &vocab);
  m.batch = positive_int_field(j, "batch", f, "batch", &batch);
  m.ffn = j.contains("ffn") ? positive_int_field(j, "ffn", f, "ffn") : none;
  m.kv_heads = j.contains("kv_heads") ? positive_int_field(j, "kv_heads", f, "kv_heads") : none;
  const std::string mlp = string_field(j, "mlp", "gelu");
  if (mlp != "gelu" && mlp != "swiglu")
    throw UsageError(f + ": field 'mlp' must be \"gelu\" or \"swiglu\"");
  m.gated_mlp = mlp == "swiglu";
  m.tied_embeddings = bool_field(j, "tied_embeddings", f, true);
  m.positions = parse_positions(string_field(j, "positions", "learned"), f);
  m.validate(f);
  return m;
}

}  // namespace plait::plan
