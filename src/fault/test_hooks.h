// The rank-and-step test hooks (docs/FAULT_TOLERANCE.md): environment variables that
// make one rank meet a fault at one step, so a test can kill, stop, stall or fail a
// rank at a known point without depending on timing.
//
//   PLAIT_TEST_KILL=R:S[,R:S...]      rank R SIGKILLs its process as it starts step S
//   PLAIT_TEST_STALL=R:S[,R:S...]     rank R sleeps for good (heartbeats go on)
//   PLAIT_TEST_SIGSTOP=R:S[,R:S...]   rank R SIGSTOPs its process
//   PLAIT_TEST_FAIL_AT=R:S[,R:S...]   rank R throws a RuntimeError
//   PLAIT_TEST_FAIL_AT_START=R[@S]    rank R fails at the start of every run that starts
//                                     at step S (0 when not given) or later
//
// R is a world rank, S a 0-based step, both non-negative decimal integers. Each
// variable is parsed once (at the start of a run, by RankStepHooks::from_env) by the
// one grammar here; a malformed value is a UsageError naming the variable and the bad
// entry, never a hook that silently does not fire. What a hook does when it fires
// (and whether it fires once per run directory) stays with its caller.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace plait::fault {

struct RankStep {
  int rank = 0;
  std::int64_t step = 0;
  bool operator==(const RankStep&) const = default;
};

// "R:S[,R:S...]" -> its points, in order. `var` only names the value in the error.
// Throws UsageError on an empty value, an empty entry, or anything else malformed.
std::vector<RankStep> parse_rank_steps(std::string_view var, std::string_view text);
// "R[@S]" -> {R, S}, S = 0 when not given. Throws UsageError when malformed.
RankStep parse_rank_from(std::string_view var, std::string_view text);

// The hooks above, read from the environment once.
class RankStepHooks {
 public:
  enum Kind { kill, stall, sigstop, fail_at, kKinds };

  // Reads every variable (an unset one schedules nothing); throws UsageError when one is
  // set but malformed.
  static RankStepHooks from_env();
  static const char* var(Kind k);

  // Whether hook k is scheduled for `rank` at `step`.
  bool fires(Kind k, int rank, std::int64_t step) const;
  // Whether a kill, stall or sigstop of any rank is scheduled at step t or t + 1.
  bool fault_near(std::int64_t t) const;
  // PLAIT_TEST_FAIL_AT_START's rank and first step, when set.
  const std::optional<RankStep>& fail_at_start() const { return fail_at_start_; }

 private:
  std::vector<RankStep> points_[kKinds];
  std::optional<RankStep> fail_at_start_;
};

}  // namespace plait::fault
