#include "fault/finite.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "util/error.h"

namespace plait {
namespace {
std::atomic<bool> allowed{false};
}  // namespace

void set_allow_nonfinite(bool allow) { allowed = allow; }
bool allow_nonfinite() { return allowed; }

void check_finite(std::span<const float> values, const std::string& where, const std::string& name) {
  if (allowed) return;
  for (size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i]))
      throw UsageError(where + ": tensor '" + name + "' holds " +
                       (std::isnan(values[i]) ? "nan" : values[i] > 0 ? "inf" : "-inf") +
                       " at element " + std::to_string(i) + " of the part read " +
                       "(--allow-nonfinite loads it anyway)");
}

namespace {

bool all_finite(std::span<const float> v) {
  for (float x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

}  // namespace

std::string first_nonfinite(std::span<const ParamSpec> specs, std::span<const float> params,
                            std::span<const float> grads) {
  for (const ParamSpec& s : specs)
    if (!all_finite(params.subspan(s.offset, s.size))) return s.name;
  for (const ParamSpec& s : specs)
    if (!all_finite(grads.subspan(s.offset, s.size))) return s.name + " grad";
  return "";
}

int64_t first_nonfinite_index(std::span<const ParamSpec> specs, std::span<const float> params,
                              std::span<const float> grads, size_t lo, size_t hi) {
  const auto bad = [&](std::span<const float> arena, const ParamSpec& s) {
    const size_t b = std::max(lo, s.offset), e = std::min(hi, s.offset + s.size);
    for (size_t i = b; i < e && i < arena.size(); ++i)
      if (!std::isfinite(arena[i])) return true;
    return false;
  };
  const auto n = static_cast<int64_t>(specs.size());
  for (int64_t i = 0; i < n; ++i)
    if (bad(params, specs[i])) return i;
  for (int64_t i = 0; i < n; ++i)
    if (bad(grads, specs[i])) return n + i;
  return -1;
}

std::string nonfinite_name(std::span<const ParamSpec> specs, int64_t index) {
  const auto n = static_cast<int64_t>(specs.size());
  if (index < 0 || index >= 2 * n) return "";
  return specs[index % n].name + (index >= n ? " grad" : "");
}

bool inject_nan_for_test(std::span<const ParamSpec> specs, int64_t step, std::span<float> grads) {
  const char* env = std::getenv("PLAIT_TEST_NAN_AT");
  if (!env) return false;
  long long at = -1;
  int used = 0;
  if (std::sscanf(env, "%lld%n", &at, &used) != 1) return false;
  const bool from_on = env[used] == '+';
  if (from_on ? step < at : step != at) return false;
  const char* colon = std::strchr(env, ':');
  const std::string name = colon ? colon + 1 : "transformer.h.0.mlp.c_fc.weight";
  for (const ParamSpec& s : specs)
    if (s.name == name && s.size > 0) {
      grads[s.offset] = std::numeric_limits<float>::quiet_NaN();
      return !from_on;
    }
  return false;
}

}  // namespace plait
