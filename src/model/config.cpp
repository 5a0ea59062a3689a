#include "model/config.h"

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace plait {

void GPTConfig::validate() const {
  auto positive = [](int v, const char* name) {
    if (v <= 0)
      throw UsageError(std::string("model config: ") + name + " must be positive, got " +
                       std::to_string(v));
  };
  positive(vocab, "vocab");
  positive(ctx, "ctx");
  positive(layers, "layers");
  positive(dim, "dim");
  positive(heads, "heads");
  if (dim % heads != 0)
    throw UsageError("model config: dim " + std::to_string(dim) +
                     " is not divisible by heads " + std::to_string(heads));
}

nlohmann::json GPTConfig::to_json() const {
  return {{"vocab", vocab}, {"ctx", ctx}, {"layers", layers}, {"dim", dim}, {"heads", heads}};
}

GPTConfig GPTConfig::from_json(const nlohmann::json& j) {
  GPTConfig c;
  auto get = [&](const char* key, int& v) {
    if (!j.contains(key)) throw UsageError(std::string("model config: missing '") + key + "'");
    const auto& x = j.at(key);
    if (x.is_number_integer()) v = x.get<int>();
    else if (x.is_string()) {
      try { v = std::stoi(x.get<std::string>()); }
      catch (...) { throw UsageError(std::string("model config: '") + key + "' is not an integer"); }
    } else throw UsageError(std::string("model config: '") + key + "' is not an integer");
  };
  get("vocab", c.vocab);
  get("ctx", c.ctx);
  get("layers", c.layers);
  get("dim", c.dim);
  get("heads", c.heads);
  c.validate();
  return c;
}

}  // namespace plait
