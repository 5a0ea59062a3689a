#include "balance/slowdown.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "util/error.h"

namespace plait::balance {
namespace {

[[noreturn]] void bad(const std::string& text, const std::string& why) {
  throw UsageError("--slowdown '" + text + "': " + why +
                   " (expected RANK:FACTOR[@STEP], e.g. 1:2 or 1:2.5@40)");
}

// The whole of `s` as an integer >= 0.
int64_t whole_number(const std::string& text, const std::string& s, const char* what) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 12)
    bad(text, std::string(what) + " '" + s + "' is not a whole number >= 0");
  return std::strtoll(s.c_str(), nullptr, 10);
}

// This thread's seconds spent runnable but waiting for a core (the second field of
// /proc/thread-self/schedstat, in ns); 0 where unreadable or under PLAIT_SLOWDOWN_WALL=1.
double queued_seconds() {
  static const bool wall = [] {
    const char* e = std::getenv("PLAIT_SLOWDOWN_WALL");
    return e != nullptr && std::strcmp(e, "1") == 0;
  }();
  if (wall) return 0;
  std::FILE* f = std::fopen("/proc/thread-self/schedstat", "r");
  if (!f) return 0;
  unsigned long long run_ns = 0, wait_ns = 0;
  const int got = std::fscanf(f, "%llu %llu", &run_ns, &wait_ns);
  std::fclose(f);
  return got == 2 ? static_cast<double>(wait_ns) * 1e-9 : 0;
}

}  // namespace

WorkStart::WorkStart(double f)
    : factor(f), wall(std::chrono::steady_clock::now()), queued_s(f > 1 ? queued_seconds() : 0) {}

Slowdown parse_slowdown(const std::string& text) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos) bad(text, "no ':'");
  const size_t at = text.find('@', colon);
  const std::string rank = text.substr(0, colon);
  const std::string factor =
      text.substr(colon + 1, at == std::string::npos ? std::string::npos : at - colon - 1);
  Slowdown s;
  const int64_t r = whole_number(text, rank, "rank");
  if (r > 1'000'000) bad(text, "rank " + rank + " is too large");
  s.rank = static_cast<int>(r);
  char* end = nullptr;
  errno = 0;
  s.factor = std::strtod(factor.c_str(), &end);
  if (factor.empty() || end != factor.c_str() + factor.size() || errno != 0 ||
      !std::isfinite(s.factor))
    bad(text, "factor '" + factor + "' is not a number");
  if (s.factor < 1) bad(text, "factor " + factor + " is below 1 (a slowdown cannot speed up)");
  if (s.factor > 1000) bad(text, "factor " + factor + " is above 1000");
  if (at != std::string::npos) s.from = whole_number(text, text.substr(at + 1), "step");
  return s;
}

double slowdown_at(std::span<const Slowdown> schedule, int rank, int64_t step) {
  double factor = 1;
  int64_t latest = -1;
  for (const Slowdown& s : schedule)
    if (s.rank == rank && s.from <= step && s.from >= latest) {
      factor = s.factor;
      latest = s.from;
    }
  return factor;
}

double throttle_sleep_s(double factor, double wall_s, double queued_s) {
  if (!(factor > 1)) return 0;
  const double ran = std::max(0.0, wall_s - std::max(0.0, queued_s));
  return std::max(0.0, factor * ran - wall_s);
}

void throttle(const WorkStart& start) {
  if (!(start.factor > 1)) return;
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start.wall).count();
  const double s = throttle_sleep_s(start.factor, wall, queued_seconds() - start.queued_s);
  if (s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

}  // namespace plait::balance
