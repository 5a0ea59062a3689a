// An event count on a Linux futex: how a rank of the threads transport sleeps until
// something in its mailbox changes, and how the changer wakes it.
//
//   waiter:   e = epoch(); if (ready()) done; else wait(e, deadline); repeat
//   notifier: change the state the waiter's ready() reads; notify_all()
//
// No wake-up is lost: notify_all() bumps the epoch AFTER the state change, and the
// kernel only puts the waiter to sleep if the epoch still equals the `seen` it read
// BEFORE checking ready(). A waiter counter (sequentially consistent with the epoch)
// lets notify_all() skip the system call when nobody sleeps.
// Unlike a condition variable, neither side takes a lock, and a sleeping waiter
// leaves its core to whoever needs it (the peer it waits for, under load).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>

namespace plait::comm {

class WakeEvent {
 public:
  using Clock = std::chrono::steady_clock;

  std::uint32_t epoch() const { return epoch_.load(std::memory_order_seq_cst); }
  void notify_all();
  // Sleeps until the epoch differs from `seen`, the deadline passes, or a spurious
  // wake-up; the caller re-checks its condition either way.
  void wait(std::uint32_t seen, Clock::time_point deadline);

 private:
  std::atomic<std::uint32_t> epoch_{0};
  std::atomic<int> sleepers_{0};
};

}  // namespace plait::comm
