#include "plan/model_spec.h"

#include <filesystem>

#include "plan/json_fields.h"
#include "util/error.h"

namespace plait::plan {
namespace {

// Sources: GPT-2 sizes from Radford et al. 2019 (Table 2; batch 512 of 1024 tokens);
// GPT-3 175B from Brown et al. 2020 (Table 2.1: 96 layers, d_model 12288, 96 heads,
// n_ctx 2048, batch 3.2M tokens = 1536 sequences). "demo" is `plait bench train`'s
// configuration (issue 2); "tiny" the size the tests train.
const std::vector<ModelSpec>& presets() {
  static const std::vector<ModelSpec> list = {
      {"tiny", 2, 64, 2, 32, 256, 8},
      {"demo", 4, 256, 4, 128, 256, 16},
      {"gpt2-124m", 12, 768, 12, 1024, 50257, 512},
      {"gpt2-350m", 24, 1024, 16, 1024, 50257, 512},
      {"gpt2-1.5b", 48, 1600, 25, 1024, 50257, 512},
      {"gpt3-175b", 96, 12288, 96, 2048, 50257, 1536},
  };
  return list;
}

}  // namespace

double ModelSpec::params() const {
  const double h = dim;
  return vocab * h + ctx * h + layers * (12 * h * h + 13 * h) + 2 * h;
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
  const int vocab = 256, batch = 16;
  ModelSpec m;
  m.name = string_field(j, "name", std::filesystem::path(f).stem().string());
  m.layers = positive_int_field(j, "layers", f, "layers");
  m.dim = positive_int_field(j, "dim", f, "dim");
  m.heads = positive_int_field(j, "heads", f, "heads");
  m.ctx = positive_int_field(j, "ctx", f, "ctx");
  m.vocab = positive_int_field(j, "vocab", f, "vocab", &vocab);
  m.batch = positive_int_field(j, "batch", f, "batch", &batch);
  m.validate(f);
  return m;
}

}  // namespace plait::plan
