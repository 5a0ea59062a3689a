#include "plan/training_format.h"

#include "util/error.h"

namespace plait::plan {

FormatBytes format_bytes(Format f) {
  switch (f) {
    case Format::mixed:
      return {2, 2, 12, 2, 10, 24, 5};
    case Format::fp32:
      return {4, 4, 8, 4, 16, 48, 4};
  }
  return {};
}

const char* to_string(Format f) { return f == Format::mixed ? "mixed" : "fp32"; }

Format parse_format(const std::string& name) {
  if (name == "mixed") return Format::mixed;
  if (name == "fp32") return Format::fp32;
  throw UsageError("unknown precision '" + name + "' (expected mixed or fp32)");
}

double attention_work_fraction(Format f, int ctx) {
  if (f == Format::mixed) return 1;
  const double n = (ctx + 31) / 32;
  return (n + 1) / (2 * n);
}

}  // namespace plait::plan
