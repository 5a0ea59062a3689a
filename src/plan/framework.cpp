#include "plan/framework.h"

#include "util/error.h"

namespace plait::plan {
namespace {

Framework make(const char* name, bool fused, bool selective, bool none, bool sp,
               bool dp_overlap, double tp_overlap, int zero, double accum, const char* source) {
  return {name, fused, selective, none, sp, dp_overlap, tp_overlap, zero, accum, source};
}

const std::vector<Framework>& presets() {
  static const std::vector<Framework> list = {
      make("megatron", false, false, false, false, false, 0, 0, 10,
           "Megatron-LM, Narayanan et al. 2021"),
      make("megatron-sp", false, true, true, true, false, 0, 0, 0,
           "Megatron-LM, Korthikanti et al. 2022"),
      make("deepspeed", false, false, false, false, false, 0, 1, 6,
           "Megatron-DeepSpeed with ZeRO-1 (BLOOM, MT-NLG)"),
      make("fsdp", false, false, true, false, true, 0, 3, 6,
           "metaseq FSDP + Megatron tensor parallel (OPT)"),
      make("flash", true, true, true, true, true, 0.5, 0, 0,
           "FlashAttention / xformers, Megatron-style sequence parallelism (LLaMA)"),
      make("plait", false, true, true, false, true, 0, 0, 0,
           "plait train: bucketed gradient allreduce during the backward pass, --recompute "
           "none|selective|block"),
  };
  return list;
}

}  // namespace

const Framework* find_framework(const std::string& name) {
  for (const auto& f : presets())
    if (f.name == name) return &f;
  return nullptr;
}

std::vector<std::string> framework_names() {
  std::vector<std::string> names;
  for (const auto& f : presets()) names.push_back(f.name);
  return names;
}

Framework load_framework(const std::string& name) {
  if (const Framework* f = find_framework(name)) return *f;
  std::string names;
  for (const auto& n : framework_names()) names += (names.empty() ? "" : ", ") + n;
  throw UsageError("--framework: unknown framework '" + name + "' (" + names + ")");
}

}  // namespace plait::plan
