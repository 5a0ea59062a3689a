// Reading required and optional numeric fields of a JSON description with one-line
// errors that name the file and the field (UsageError -> exit 2).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace plait::plan {

// Parses `path` as JSON; throws UsageError "FILE: cannot open" / "FILE: not JSON (...)".
nlohmann::json read_json_file(const std::string& path);

// j[key] (a dotted path such as "device.memory_gb" is only used in messages), which
// must be a number > 0 (or >= 0 when allow_zero). Missing: `fallback` if given, else
// an error.
double positive_field(const nlohmann::json& j, const std::string& key, const std::string& file,
                      const std::string& path, const double* fallback = nullptr,
                      bool allow_zero = false);
int positive_int_field(const nlohmann::json& j, const std::string& key, const std::string& file,
                       const std::string& path, const int* fallback = nullptr);
std::string string_field(const nlohmann::json& j, const std::string& key,
                         const std::string& fallback);

}  // namespace plait::plan
