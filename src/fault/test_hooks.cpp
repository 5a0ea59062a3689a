#include "fault/test_hooks.h"

#include <charconv>
#include <cstdlib>
#include <string>

#include "util/error.h"

namespace plait::fault {
namespace {

[[noreturn]] void malformed(std::string_view var, std::string_view text, std::string_view entry,
                            const char* grammar) {
  throw UsageError("test hook " + std::string(var) + "='" + std::string(text) + "': bad entry '" +
                   std::string(entry) + "', expected " + grammar +
                   " (non-negative integers: a world rank, a 0-based step)");
}

// The whole of `s` as a non-negative decimal integer, else nullopt.
template <class Int>
std::optional<Int> whole_number(std::string_view s) {
  Int v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// "A<sep>B" with both parts whole numbers; B may be left out (with its separator) when
// `b_optional`, and is then 0.
std::optional<RankStep> split_pair(std::string_view entry, char sep, bool b_optional) {
  const size_t at = entry.find(sep);
  if (at == std::string_view::npos && !b_optional) return std::nullopt;
  const auto rank = whole_number<int>(entry.substr(0, at));
  if (at == std::string_view::npos) return rank ? std::optional(RankStep{*rank, 0}) : std::nullopt;
  const auto step = whole_number<std::int64_t>(entry.substr(at + 1));
  if (!rank || !step) return std::nullopt;
  return RankStep{*rank, *step};
}

// The variable's value, or nullopt when it is unset or empty (the usual way to switch
// a variable off in a shell: VAR= cmd).
std::optional<std::string_view> env_value(const char* var) {
  const char* v = std::getenv(var);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string_view(v);
}

constexpr const char* kFailAtStart = "PLAIT_TEST_FAIL_AT_START";

}  // namespace

std::vector<RankStep> parse_rank_steps(std::string_view var, std::string_view text) {
  std::vector<RankStep> out;
  size_t begin = 0;
  for (;;) {
    const size_t comma = text.find(',', begin);
    const std::string_view entry = text.substr(begin, comma - begin);
    const auto p = split_pair(entry, ':', false);
    if (!p) malformed(var, text, entry, "RANK:STEP[,RANK:STEP...]");
    out.push_back(*p);
    if (comma == std::string_view::npos) return out;
    begin = comma + 1;
  }
}

RankStep parse_rank_from(std::string_view var, std::string_view text) {
  const auto p = split_pair(text, '@', true);
  if (!p) malformed(var, text, text, "RANK[@STEP]");
  return *p;
}

const char* RankStepHooks::var(Kind k) {
  static constexpr const char* kVars[] = {"PLAIT_TEST_KILL", "PLAIT_TEST_STALL",
                                          "PLAIT_TEST_SIGSTOP", "PLAIT_TEST_FAIL_AT"};
  static_assert(std::size(kVars) == kKinds);
  return kVars[k];
}

RankStepHooks RankStepHooks::from_env() {
  RankStepHooks h;
  for (int k = 0; k < kKinds; ++k)
    if (const auto v = env_value(var(Kind(k)))) h.points_[k] = parse_rank_steps(var(Kind(k)), *v);
  if (const auto v = env_value(kFailAtStart)) h.fail_at_start_ = parse_rank_from(kFailAtStart, *v);
  return h;
}

bool RankStepHooks::fires(Kind k, int rank, std::int64_t step) const {
  for (const RankStep& p : points_[k])
    if (p.rank == rank && p.step == step) return true;
  return false;
}

bool RankStepHooks::fault_near(std::int64_t t) const {
  for (Kind k : {kill, stall, sigstop})
    for (const RankStep& p : points_[k])
      if (p.step == t || p.step == t + 1) return true;
  return false;
}

}  // namespace plait::fault
