#include "plan/json_fields.h"

#include <cmath>
#include <fstream>

#include "util/error.h"
#include "util/files.h"

namespace plait::plan {
namespace {
[[noreturn]] void bad(const std::string& file, const std::string& path, const std::string& why) {
  throw UsageError(file + ": field '" + path + "' " + why);
}
}  // namespace

nlohmann::json read_json_file(const std::string& path) {
  const std::string text = read_regular_file(path, "JSON file", 64ull << 20);  // no FIFO
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    if (!j.is_object()) throw UsageError(path + ": expected a JSON object");
    return j;
  } catch (const nlohmann::json::parse_error& e) {
    std::string what = e.what();
    throw UsageError(path + ": not valid JSON (" + what.substr(what.find(']') + 2) + ")");
  }
}

double positive_field(const nlohmann::json& j, const std::string& key, const std::string& file,
                      const std::string& path, const double* fallback, bool allow_zero) {
  if (!j.is_object() || !j.contains(key)) {
    if (fallback) return *fallback;
    bad(file, path, "is missing");
  }
  const auto& v = j.at(key);
  if (!v.is_number()) bad(file, path, "must be a number");
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < 0 || (!allow_zero && x == 0))
    bad(file, path, allow_zero ? "must be >= 0" : "must be > 0");
  return x;
}

int positive_int_field(const nlohmann::json& j, const std::string& key, const std::string& file,
                       const std::string& path, const int* fallback) {
  if (!j.is_object() || !j.contains(key)) {
    if (fallback) return *fallback;
    bad(file, path, "is missing");
  }
  const auto& v = j.at(key);
  if (!v.is_number_integer() || v.get<long long>() <= 0 || v.get<long long>() > (1LL << 30))
    bad(file, path, "must be a positive integer");
  return static_cast<int>(v.get<long long>());
}

std::string string_field(const nlohmann::json& j, const std::string& key,
                         const std::string& fallback) {
  if (j.is_object() && j.contains(key) && j.at(key).is_string())
    return j.at(key).get<std::string>();
  return fallback;
}

}  // namespace plait::plan
