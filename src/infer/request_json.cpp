#include "infer/request_json.h"

#include <cmath>

#include "util/error.h"

namespace plait::infer {
namespace {

using nlohmann::json;

[[noreturn]] void bad(const std::string& field, const std::string& why) {
  throw UsageError("'" + field + "' " + why);
}

double number(const json& j, const char* f) {
  if (!j.is_number()) bad(f, "must be a number");
  return j.get<double>();
}

int64_t integer(const json& j, const char* f, int64_t lo, int64_t hi) {
  if (!j.is_number_integer()) bad(f, "must be an integer");
  if (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(hi))
    bad(f, "must be at most " + std::to_string(hi));
  const int64_t v = j.get<int64_t>();
  if (v < lo || v > hi)
    bad(f, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

std::vector<std::string> stops(const json& j) {
  std::vector<std::string> out;
  if (j.is_string()) {
    out.push_back(j.get<std::string>());
  } else if (j.is_array()) {
    if (j.size() > 16) bad("stop", "has more than 16 strings");
    for (const auto& s : j) {
      if (!s.is_string()) bad("stop", "must be a string or an array of strings");
      out.push_back(s.get<std::string>());
    }
  } else if (!j.is_null()) {
    bad("stop", "must be a string or an array of strings");
  }
  for (const auto& s : out)
    if (s.empty()) bad("stop", "must not contain an empty string");
  return out;
}

}  // namespace

JsonRequest request_from_json(const json& j, const data::Tokenizer& tok,
                              const Request& defaults, size_t max_prompt_tokens) {
  if (!j.is_object()) throw UsageError("the request must be a JSON object");
  JsonRequest r;
  r.request = defaults;
  if (!j.contains("prompt")) bad("prompt", "is missing");
  if (!j["prompt"].is_string()) bad("prompt", "must be a string");
  r.prompt = j["prompt"].get<std::string>();
  auto& q = r.request;
  auto& s = q.sampling;
  if (j.contains("max_tokens"))
    q.max_tokens = static_cast<int>(integer(j["max_tokens"], "max_tokens", 0, 1 << 20));
  if (j.contains("temperature")) s.temperature = static_cast<float>(number(j["temperature"], "temperature"));
  if (j.contains("top_k")) s.top_k = static_cast<int>(integer(j["top_k"], "top_k", 0, 1 << 30));
  if (j.contains("top_p")) s.top_p = static_cast<float>(number(j["top_p"], "top_p"));
  if (j.contains("repetition_penalty"))
    s.repetition_penalty = static_cast<float>(number(j["repetition_penalty"], "repetition_penalty"));
  if (j.contains("seed"))
    s.seed = static_cast<uint64_t>(integer(j["seed"], "seed", 0, INT64_MAX));
  if (j.contains("stop")) q.stop = stops(j["stop"]);
  if (j.contains("stream")) {
    if (!j["stream"].is_boolean()) bad("stream", "must be true or false");
    r.stream = j["stream"].get<bool>();
  }
  s.validate("");
  q.prompt = tok.encode(r.prompt);
  if (max_prompt_tokens > 0 && q.prompt.size() > max_prompt_tokens)
    bad("prompt", "has " + std::to_string(q.prompt.size()) + " tokens, more than the limit " +
                      std::to_string(max_prompt_tokens));
  return r;
}

}  // namespace plait::infer
