#include "model/params.h"

namespace plait {

ParamTable::ParamTable(const GPTConfig& cfg) : cfg_(cfg) {
  cfg.validate();
  const int64_t V = cfg.padded_vocab(), T = cfg.ctx, C = cfg.dim;
  add("transformer.wte.weight", {V, C}, true, false);
  add("transformer.wpe.weight", {T, C}, true, false);
  for (int i = 0; i < cfg.layers; ++i) {
    const std::string p = "transformer.h." + std::to_string(i) + ".";
    add(p + "ln_1.weight", {C}, false, false);
    add(p + "ln_1.bias", {C}, false, false);
    add(p + "attn.c_attn.weight", {3 * C, C}, true, false);
    add(p + "attn.c_attn.bias", {3 * C}, false, false);
    add(p + "attn.c_proj.weight", {C, C}, true, true);
    add(p + "attn.c_proj.bias", {C}, false, false);
    add(p + "ln_2.weight", {C}, false, false);
    add(p + "ln_2.bias", {C}, false, false);
    add(p + "mlp.c_fc.weight", {4 * C, C}, true, false);
    add(p + "mlp.c_fc.bias", {4 * C}, false, false);
    add(p + "mlp.c_proj.weight", {C, 4 * C}, true, true);
    add(p + "mlp.c_proj.bias", {C}, false, false);
  }
  add("transformer.ln_f.weight", {C}, false, false);
  add("transformer.ln_f.bias", {C}, false, false);
}

void ParamTable::add(std::string name, std::vector<int64_t> shape, bool decay,
                     bool residual_proj) {
  ParamSpec s;
  s.name = std::move(name);
  s.size = 1;
  for (auto d : shape) s.size *= static_cast<size_t>(d);
  s.shape = std::move(shape);
  s.offset = total_;
  s.decay = decay;
  s.residual_proj = residual_proj;
  total_ += s.size;
  specs_.push_back(std::move(s));
}

int ParamTable::find(const std::string& name) const {
  for (size_t i = 0; i < specs_.size(); ++i)
    if (specs_[i].name == name) return static_cast<int>(i);
  return -1;
}

}  // namespace plait
