#include "comm/latency_allreduce.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <new>
#include <span>
#include <string>

#include "comm/collectives.h"
#include "comm/threads_transport.h"
#include "util/error.h"

namespace plait::comm {
namespace {

using Clock = std::chrono::steady_clock;

// Bounds of the adaptive spin (see the header): a quiet machine's waits end within
// microseconds; under load a peer is descheduled for milliseconds and the spin only
// burns the core it needs, so the budget falls to the floor.
constexpr std::int64_t kSpinMinNs = 10'000, kSpinMaxNs = 1'000'000, kSpinStartNs = 200'000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// One rank's arrival count, alone on its cache line (the others only read it).
struct alignas(64) Arrival {
  std::atomic<std::uint64_t> count{0};
};

constexpr std::size_t kLine = 64 / sizeof(float);

}  // namespace

struct LatencyAllreduce::Shared {
  Shared(int T, std::size_t cap)
      : ranks(T), stride((cap + kLine - 1) / kLine * kLine), arrived(new Arrival[T]),
        slots(new (std::align_val_t(64)) float[2 * size_t(T) * stride]) {}
  ~Shared() { ::operator delete[](slots, std::align_val_t(64)); }

  float* slot(std::uint64_t call, int r) { return slots + ((call % 2) * ranks + r) * stride; }

  const int ranks;
  const std::size_t stride;  // floats per slot, whole cache lines
  std::unique_ptr<Arrival[]> arrived;
  float* slots;               // [2][ranks][stride]
  std::atomic<bool> left{false};  // a member was destroyed
};

LatencyAllreduce::LatencyAllreduce(Group g, std::size_t max_floats, bool spin)
    : g_(std::move(g)), spin_(spin), spin_ns_(kSpinStartNs) {
  if (g_.size() == 1 || g_.backend() != Backend::threads || max_floats == 0) return;
  // Rank 0 makes the block and hands every rank its shared_ptr's address (the ranks
  // share one address space); the barrier keeps rank 0's pointer alive until all
  // have copied it.
  if (g_.rank() == 0) shm_ = std::make_shared<Shared>(g_.size(), max_floats);
  const std::shared_ptr<Shared>* from = &shm_;
  broadcast(g_, std::as_writable_bytes(std::span(&from, 1)), 0);
  if (g_.rank() != 0) shm_ = *from;
  barrier(g_);
  cap_ = max_floats;
  threads_ = &dynamic_cast<ThreadsTransport&>(g_.transport());
}

LatencyAllreduce::~LatencyAllreduce() {
  if (!shm_) return;
  shm_->left.store(true, std::memory_order_seq_cst);
  wake_peers();
}

void LatencyAllreduce::wake_peers() {
  for (int q = 0; q < g_.size(); ++q)
    if (q != g_.rank()) threads_->wake(q);
}

void LatencyAllreduce::run(float* v, std::size_t n) {
  if (g_.size() == 1 || n == 0) return;
  const auto t0 = Clock::now();
  if (shared(n))
    run_shared(v, n);
  else
    run_exchange(v, n);
  ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

void LatencyAllreduce::run_shared(float* v, std::size_t n) {
  Shared& s = *shm_;
  const int T = s.ranks, r = g_.rank();
  const std::uint64_t c = ++calls_;
  const OpLabel op{"allreduce(latency)", g_.next_seq(), true};
  std::memcpy(s.slot(c, r), v, n * sizeof(float));
  s.arrived[r].count.store(c, std::memory_order_release);
  wake_peers();
  if (missing(c) >= 0) wait(c, op);
  const float* p0 = s.slot(c, 0);
  std::copy_n(p0, n, v);
  for (int q = 1; q < T; ++q) {
    const float* p = s.slot(c, q);
    for (std::size_t i = 0; i < n; ++i) v[i] += p[i];
  }
}

int LatencyAllreduce::missing(std::uint64_t c) const {
  const Shared& s = *shm_;
  for (int q = 0; q < s.ranks; ++q)
    if (s.arrived[q].count.load(std::memory_order_acquire) < c) {
      if (s.left.load(std::memory_order_acquire))
        throw RuntimeError("allreduce in group '" + g_.name() +
                           "': a member left while the others waited for it");
      return q;
    }
  return -1;
}

void LatencyAllreduce::wait(std::uint64_t c, const OpLabel& op) {
  if (spin_) {
    const auto end = Clock::now() + std::chrono::nanoseconds(spin_ns_);
    do {
      for (int i = 0; i < 64; ++i) {
        if (missing(c) < 0) {
          spin_ns_ = std::min(kSpinMaxNs, 2 * spin_ns_);
          return;
        }
        cpu_relax();
      }
    } while (Clock::now() < end);
    spin_ns_ = std::max(kSpinMinNs, spin_ns_ / 2);
  }
  threads_->await([this, c] { return missing(c); }, op);
}

void LatencyAllreduce::run_exchange(float* v, std::size_t n) {
  const int T = g_.size(), r = g_.rank();
  parts_.resize(size_t(T) * n);
  std::copy_n(v, n, parts_.data() + size_t(r) * n);
  const std::uint64_t tag = exchanges_++ % (g_.max_tag() + 1);
  reqs_.clear();
  for (int q = 0; q < T; ++q) {
    if (q == r) continue;
    const auto part = [&](int k) { return std::span<float>(parts_.data() + size_t(k) * n, n); };
    reqs_.push_back(g_.irecv(q, tag, std::as_writable_bytes(part(q))));
    reqs_.push_back(g_.isend(q, tag, std::as_bytes(part(r))));
  }
  for (auto& q : reqs_) g_.wait(q);
  std::copy_n(parts_.data(), n, v);
  for (int q = 1; q < T; ++q) {
    const float* p = parts_.data() + size_t(q) * n;
    for (std::size_t i = 0; i < n; ++i) v[i] += p[i];
  }
}

}  // namespace plait::comm
