#include "util/link.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "util/error.h"

namespace plait {
namespace {

// "<number><unit>" with unit in `units` (name, multiplier); returns the scaled value.
double parse_quantity(const std::string& s, const std::string& whole,
                      std::initializer_list<std::pair<const char*, double>> units) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !std::isfinite(v) || v < 0)
    throw UsageError("link '" + whole + "': '" + s + "' is not a non-negative number");
  std::string unit(end);
  for (auto [name, mult] : units)
    if (unit == name) return v * mult;
  throw UsageError("link '" + whole + "': unknown unit '" + unit + "' in '" + s + "'");
}

}  // namespace

LinkSpec parse_link(const std::string& text) {
  auto colon = text.find(':');
  if (colon == std::string::npos)
    throw UsageError("link '" + text + "': expected LATENCY:BANDWIDTH, e.g. 5us:10GB/s");
  LinkSpec l;
  l.latency_s = parse_quantity(text.substr(0, colon), text,
                               {{"s", 1.0}, {"ms", 1e-3}, {"us", 1e-6}, {"ns", 1e-9}});
  const std::string bandwidth = text.substr(colon + 1);
  if (l.latency_s > 3600)
    throw UsageError("link '" + text + "': a latency over an hour is not a link");
  if (bandwidth == "inf") return l;  // unlimited: latency only
  l.bandwidth_Bps = parse_quantity(
      bandwidth, text,
      {{"B/s", 1.0}, {"KB/s", 1e3}, {"MB/s", 1e6}, {"GB/s", 1e9}, {"Gbit/s", 1.25e8}});
  // 0 would mean unlimited inside LinkSpec: a link that carries nothing is refused.
  if (!(l.bandwidth_Bps >= 1))
    throw UsageError("link '" + text + "': bandwidth must be at least 1B/s ('inf': unlimited)");
  return l;
}

std::string format_link(const LinkSpec& l) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%gus:%gGB/s", l.latency_s * 1e6, l.bandwidth_Bps / 1e9);
  return buf;
}

}  // namespace plait
