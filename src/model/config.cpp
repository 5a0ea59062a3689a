#include "model/config.h"
#include "model/limits.h"

#include <charconv>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "util/error.h"

namespace plait {

void GPTConfig::validate() const {
  auto bounded = [](int v, const char* name, int limit) {
    if (v <= 0 || v > limit)
      throw UsageError(std::string("model config: ") + name + " must be in [1, " +
                       std::to_string(limit) + "], got " + std::to_string(v));
  };
  bounded(vocab, "vocab", GPTLimits::vocab);
  bounded(ctx, "ctx", GPTLimits::ctx);
  bounded(layers, "layers", GPTLimits::layers);
  bounded(dim, "dim", GPTLimits::dim);
  bounded(heads, "heads", GPTLimits::heads);
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
    // Parsed exactly: a value past int's range is refused, never truncated.
    const auto& x = j.at(key);
    int64_t wide = 0;
    bool ok = false;
    if (x.is_number_unsigned()) {
      ok = x.get<uint64_t>() <= static_cast<uint64_t>(INT32_MAX);
      wide = ok ? static_cast<int64_t>(x.get<uint64_t>()) : 0;
    } else if (x.is_number_integer()) {
      wide = x.get<int64_t>();
      ok = true;
    } else if (x.is_string()) {
      const std::string& s = x.get_ref<const std::string&>();
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), wide);
      ok = !s.empty() && ec == std::errc() && p == s.data() + s.size();
    }
    if (!ok || wide < INT32_MIN || wide > INT32_MAX)
      throw UsageError(std::string("model config: '") + key + "' is not an integer in range: " +
                       x.dump().substr(0, 40));
    v = static_cast<int>(wide);
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
