#include "fault/finite.h"

#include <atomic>
#include <cmath>

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

}  // namespace plait
