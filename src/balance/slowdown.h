// Emulated slow hardware (`--slowdown RANK:FACTOR[@STEP]`, repeatable), for tests and
// benchmarks of balancing: from step STEP on (0 when omitted) rank RANK's compute takes
// FACTOR times as long. The trainer makes it real (parallel/replica.cpp,
// mesh_worker.cpp): after each micro-batch's forward or backward pass the rank sleeps
// until the pass has lasted FACTOR x the time it ran on a core, so the rank's measured
// compute time, its step and everyone who waits for it slow down as on a FACTOR-times
// slower chip of its own that leaves this core idle. Nothing in the measurement is faked.
//
// "The time it ran" is the pass's wall time less the time this thread waited for a
// core (Linux: /proc/thread-self/schedstat): on a shared machine the other ranks'
// compute would otherwise stretch the emulated chip by FACTOR x their contention, which
// no separate chip suffers. Where schedstat is unreadable, or PLAIT_SLOWDOWN_WALL=1
// (the emulation before 2026-12-02, for comparison), the whole wall time counts.
//
// Several entries for one rank form a schedule: at step t the entry with the largest
// STEP <= t applies (1:3@0 1:1@50 = three times slower for 50 steps, then normal).
#pragma once
#include <chrono>
#include <cstdint>
#include <span>
#include <string>

namespace plait::balance {

struct Slowdown {
  int rank = 0;
  double factor = 1;   // >= 1: compute takes this many times as long
  int64_t from = 0;    // first step it applies to (0-based)
};

// "1:2", "1:2.5@40". UsageError (one line, quoting the text) on anything else:
// a negative rank or step, a factor below 1 or not finite.
Slowdown parse_slowdown(const std::string& text);

// The factor rank `rank` runs at during step `step` (1 when no entry applies).
double slowdown_at(std::span<const Slowdown> schedule, int rank, int64_t step);

// The start of a piece of work on this thread that runs `factor` times slower: the wall
// clock and (only when factor > 1: a file read) the thread's time waiting for a core so far.
struct WorkStart {
  explicit WorkStart(double factor);
  double factor = 1;
  std::chrono::steady_clock::time_point wall;
  double queued_s = 0;
};

// Seconds to sleep after work that took `wall_s`, of which it waited `queued_s` for a
// core, so that it lasts `factor` x the time it ran: factor x (wall - queued) - wall,
// at least 0 (0 for factor <= 1).
double throttle_sleep_s(double factor, double wall_s, double queued_s);

// The throttle itself: work that began at `start` and just ended took start.factor times
// as long once the caller has slept throttle_sleep_s. No-op for factor <= 1.
void throttle(const WorkStart& start);

}  // namespace plait::balance
