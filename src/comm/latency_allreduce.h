// An allreduce for small messages, where latency is the whole cost: the tensor group
// of generation, which closes two row-parallel sums per block per token, each a few
// KB (one row of C floats per sequence when decoding).
//
// Threads backend (the ranks are threads of one process): the group shares one
// block of memory, set up once. Call c (1, 2, ...) of rank r:
//
//   copy v into slot[c % 2][r]; arrived[r] = c (release); wake the peers
//   wait until arrived[q] >= c for every q (spin, then sleep on a futex)
//   v = slot[c % 2][0] + slot[c % 2][1] + ... (in rank order)
//
// No lock, no heap allocation, no message envelope: one copy in, one read of each
// peer's slot. Two slots per rank suffice: rank r overwrites slot[c % 2][r] only after
// every peer has arrived at call c - 1, which each does after it has read the slots
// of call c - 2.
//
// Waiting: spin while the peers are expected within microseconds (both ranks compute
// the same share of every product, so on a machine with a core per rank they arrive
// microseconds apart), then sleep so that a descheduled peer gets the core. The spin
// budget adapts as the threads transport's does, between kSpinMinNs and kSpinMaxNs,
// but its floor stays high enough that a quiet machine's waits end spinning. The sleep
// is the threads transport's (ThreadsTransport::await): on the rank's mailbox event,
// which every arrival bumps (no system call unless the peer sleeps), with the group's
// timeout (TimeoutError naming the waiting rank, "allreduce(latency)" and the missing
// rank), the world's abort and the wait board. Each call takes the group's next
// collective sequence number, so the wait board tells its calls apart.
//
// Other backends (MPI: the ranks are processes): every rank sends its whole buffer to
// every other rank and adds all of them in rank order (one exchange; a ring takes
// 2(T-1) steps).
//
// Either way every rank adds the same floats in the same order, so the replicated
// rows stay bit-identical across the group. Collective: every member calls run() in the
// same order with the same n. A member that is destroyed (its thread unwinding an
// exception) makes the others' current and later calls throw RuntimeError instead of
// waiting for it forever.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "comm/group.h"

namespace plait::comm {

class ThreadsTransport;

class LatencyAllreduce {
 public:
  // Collective over g. `max_floats`: the largest n of the threads backend's shared
  // slots (more floats fall back to the exchange). `spin`: whether waits may spin
  // (only when every rank of the run can have a core of its own).
  LatencyAllreduce(Group g, std::size_t max_floats, bool spin);
  ~LatencyAllreduce();
  LatencyAllreduce(const LatencyAllreduce&) = delete;
  LatencyAllreduce& operator=(const LatencyAllreduce&) = delete;

  // v[0..n) <- the sum over the group of every rank's v[0..n).
  void run(float* v, std::size_t n);

  // Time spent in run() so far (waiting for the peers included), and its calls.
  double seconds() const { return 1e-9 * static_cast<double>(ns_); }
  std::uint64_t calls() const { return calls_ + exchanges_; }

  // Whether run() goes through shared memory (threads backend, n <= max_floats).
  bool shared(std::size_t n) const { return shm_ != nullptr && n <= cap_; }

  struct Shared;  // the threads backend's block (latency_allreduce.cpp)

 private:
  void run_shared(float* v, std::size_t n);
  void run_exchange(float* v, std::size_t n);
  // The first rank that has not arrived at shared call c, or -1; throws if a member
  // left.
  int missing(std::uint64_t c) const;
  void wait(std::uint64_t c, const OpLabel& op);
  void wake_peers();

  Group g_;
  std::shared_ptr<Shared> shm_;
  ThreadsTransport* threads_ = nullptr;  // g_'s collective context, when shm_
  std::size_t cap_ = 0;
  bool spin_;
  std::int64_t spin_ns_;          // the current spin budget
  std::uint64_t calls_ = 0;       // shared calls so far (this rank's arrived count)
  std::uint64_t exchanges_ = 0;   // exchange calls so far (their tags)
  std::vector<float> parts_;      // exchange: [T, n], rank q's buffer at q * n
  std::vector<Request> reqs_;
  std::int64_t ns_ = 0;           // time in run()
};

}  // namespace plait::comm
