#include "plan/units.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "util/error.h"

namespace plait::plan {

double parse_count(const std::string& text, const std::string& flag) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  std::string suffix(end);
  double mult = 1;
  if (suffix == "K" || suffix == "k")
    mult = 1e3;
  else if (suffix == "M")
    mult = 1e6;
  else if (suffix == "B" || suffix == "G")
    mult = 1e9;
  else if (suffix == "T")
    mult = 1e12;
  else if (!suffix.empty())
    end = nullptr;
  if (end == nullptr || end == text.c_str() || !std::isfinite(v) || v <= 0)
    throw UsageError(flag + " '" + text + "': expected a positive count such as 300B, 1.5T, 3e11");
  return v * mult;
}

std::string fixed(double x, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
  return buf;
}

std::string join_times(std::initializer_list<std::pair<const char*, double>> parts,
                       const char* separator) {
  std::string out;
  for (auto [name, seconds] : parts) {
    if (seconds <= 0) continue;
    if (!out.empty()) out += separator;
    out += std::string(name) + " " + human_seconds(seconds);
  }
  return out;
}

std::string percent(double fraction, int decimals) { return fixed(100 * fraction, decimals) + "%"; }

std::string human_seconds(double s) {
  if (s < 1e-5) return fixed(s * 1e6, 2) + " us";
  if (s < 1e-3) return fixed(s * 1e6, 0) + " us";
  if (s < 1) return fixed(s * 1e3, 1) + " ms";
  if (s < 120) return fixed(s, 2) + " s";
  if (s < 7200) return fixed(s / 60, 1) + " min";
  if (s < 3 * 86400) return fixed(s / 3600, 1) + " h";
  if (s < 2 * 365.25 * 86400) return fixed(s / 86400, 1) + " days";
  return fixed(s / (365.25 * 86400), 0) + " years";
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int i = 0;
  while (b >= 1024 && i < 5) b /= 1024, ++i;
  return fixed(b, i == 0 ? 0 : 1) + " " + units[i];
}

std::string human_count(double x) {
  const char* units[] = {"", "K", "M", "B", "T"};
  int i = 0;
  while (x >= 1000 && i < 4) x /= 1000, ++i;
  return (x == std::floor(x) ? fixed(x, 0) : fixed(x, 1)) + units[i];
}

std::string human_rate(double x, const char* unit) {
  const char* prefixes[] = {"", "K", "M", "G", "T", "P", "E"};
  int i = 0;
  while (x >= 1000 && i < 6) x /= 1000, ++i;
  return fixed(x, x < 10 ? 2 : (x < 100 ? 1 : 0)) + " " + prefixes[i] + unit;
}

}  // namespace plait::plan
