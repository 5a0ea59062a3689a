// A worker thread that runs the items handed to it one at a time, in the order they
// were handed over, each outside the lock, so the hand-over never waits for a running
// item (parallel/grad_buckets.h: gradient buckets reduced while the backward pass goes
// on; parallel/zero.h: ZeRO-3's parameter units gathered ahead of the pass).
//
// Ordering (one owner thread calls everything but the constructor's `run`):
//   push(item)*   queue items; the worker runs them in push order;
//   wait_all()    until every pushed item has run; rethrows the first exception;
//   pop_done()    waits for the OLDEST pushed item, removes and returns it;
//   clear()       forgets the items that have run (after wait_all: a new round).
// The first item that throws stops the worker: nothing runs after it, and every wait
// from then on rethrows that exception. Whatever the owner wrote before push() is
// visible to `run` (the hand-over goes through the lock), and whatever `run` wrote is
// visible to the owner after a wait returns.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace plait {

template <class Item>
class OrderedWorker {
 public:
  explicit OrderedWorker(std::function<void(const Item&)> run)
      : run_(std::move(run)), thread_([this] { loop(); }) {}
  // Stops after the item running now, if any (items not started are dropped), and joins.
  ~OrderedWorker() {
    {
      std::lock_guard lock(m_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  OrderedWorker(const OrderedWorker&) = delete;
  OrderedWorker& operator=(const OrderedWorker&) = delete;

  void push(Item item) {
    {
      std::lock_guard lock(m_);
      items_.push_back(std::move(item));
    }
    cv_.notify_all();
  }

  void wait_all() {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return done_ == items_.size() || error_; });
    if (error_) std::rethrow_exception(error_);
  }

  // Precondition: an item was pushed and not popped.
  Item pop_done() {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return done_ > 0 || error_; });
    if (error_) std::rethrow_exception(error_);
    Item front = std::move(items_.front());
    items_.pop_front();
    --done_;
    return front;
  }

  void clear() {
    std::lock_guard lock(m_);
    for (; done_ > 0; --done_) items_.pop_front();  // references to the others stay valid
  }

 private:
  void loop() {
    std::unique_lock lock(m_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || done_ < items_.size(); });
      if (stop_) return;
      // the owner only appends or removes items that have run: this one stays put
      const Item& item = items_[done_];
      lock.unlock();
      try {
        run_(item);
      } catch (...) {
        lock.lock();
        error_ = std::current_exception();
        cv_.notify_all();
        return;
      }
      lock.lock();
      ++done_;
      cv_.notify_all();
    }
  }

  std::function<void(const Item&)> run_;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Item> items_;  // in push order; the first done_ have run
  size_t done_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace plait
