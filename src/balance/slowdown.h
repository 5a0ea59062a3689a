// Emulated slow hardware (`--slowdown RANK:FACTOR[@STEP]`, repeatable), for tests and
// benchmarks of balancing: from step STEP on (0 when omitted) rank RANK's compute takes
// FACTOR times as long. The trainer makes it real (parallel/replica.cpp): after each
// micro-batch's forward+backward pass the rank sleeps (FACTOR - 1) x the time that
// pass took, so the rank's measured compute time, its step and everyone who waits for
// it slow down exactly as on a FACTOR-times slower chip that leaves its core idle.
// Nothing in the measurement is faked.
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

// The throttle itself: work that began at `start` and just ended took `factor` times
// as long if the caller sleeps now for (factor - 1) x its time. No-op for factor <= 1.
void throttle(double factor, std::chrono::steady_clock::time_point start);

}  // namespace plait::balance
