#include "comm/wake_event.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

namespace plait::comm {
namespace {

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                  std::atomic<std::uint32_t>::is_always_lock_free,
              "the futex word is the atomic's own storage");

long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t val, const timespec* timeout) {
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op, val, timeout, nullptr, 0);
}

}  // namespace

void WakeEvent::notify_all() {
  epoch_.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0)
    futex(&epoch_, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr);
}

void WakeEvent::wait(std::uint32_t seen, Clock::time_point deadline) {
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return;
  // Sleep at most a second at a time (deadlines far away: Clock::time_point::max()).
  const auto ns = std::min<std::int64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(left).count(), 1'000'000'000);
  const timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  if (epoch_.load(std::memory_order_seq_cst) == seen)
    futex(&epoch_, FUTEX_WAIT_PRIVATE, seen, &ts);
  sleepers_.fetch_sub(1, std::memory_order_seq_cst);
}

}  // namespace plait::comm
