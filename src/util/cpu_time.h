// CPU seconds used so far (user + system), by this process (every thread) or by the
// calling thread; 0 where the clock is not available. Differences between two reads
// measure work, unlike wall time, which on a shared machine includes the waits for a
// core (tools/bench_balance.py's overhead case).
#pragma once
#include <time.h>

namespace plait {

inline double cpu_clock_s(clockid_t clock) {
  timespec ts{};
  if (clock_gettime(clock, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
inline double process_cpu_s() { return cpu_clock_s(CLOCK_PROCESS_CPUTIME_ID); }
inline double thread_cpu_s() { return cpu_clock_s(CLOCK_THREAD_CPUTIME_ID); }

}  // namespace plait
