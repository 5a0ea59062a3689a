// Background threads of this process that compete with training for the cores (the
// checkpoint writer: fault/checkpoint_writer.h). While any is busy, the threads
// transport's waits do not spin (comm/threads_transport.h): a rank that spins while
// its peer is queued behind the writer holds a core the writer could use, so the
// checkpoint would cost training twice (the writer's time and the spin).
#pragma once
#include <atomic>

namespace plait {

// How many background threads are busy now (relaxed: a hint read on every wait).
inline std::atomic<int>& background_busy() {
  static std::atomic<int> n{0};
  return n;
}

// Counts the current thread as busy for its lifetime.
struct BackgroundBusy {
  BackgroundBusy() { background_busy().fetch_add(1, std::memory_order_relaxed); }
  ~BackgroundBusy() { background_busy().fetch_sub(1, std::memory_order_relaxed); }
  BackgroundBusy(const BackgroundBusy&) = delete;
  BackgroundBusy& operator=(const BackgroundBusy&) = delete;
};

}  // namespace plait
