#include "comm/shared_counter.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>
#include <cstring>
#include <exception>

#include "comm/collectives.h"
#include "comm/mpi_include.h"
#include "comm/mpi_transport.h"
#include "util/error.h"

namespace plait::comm {
namespace {

void check_slot(int first, size_t count, int slots) {
  if (first < 0 || static_cast<size_t>(first) + count > static_cast<size_t>(slots))
    throw UsageError("shared counter: board slots [" + std::to_string(first) + ", " +
                     std::to_string(static_cast<size_t>(first) + count) + ") of " +
                     std::to_string(slots));
}

// The counter and the board, shared by the group's threads.
struct Shared {
  explicit Shared(int slots)
      : slots(slots), board(std::make_unique<std::atomic<int64_t>[]>(static_cast<size_t>(slots))) {}
  std::atomic<int64_t> counter{0};
  int slots;
  std::unique_ptr<std::atomic<int64_t>[]> board;  // value-initialized: zeros
};

class AtomicCounter final : public SharedCounter {
 public:
  explicit AtomicCounter(std::shared_ptr<Shared> v) : v_(std::move(v)) {}
  int64_t fetch_add(int64_t delta) override { return v_->counter.fetch_add(delta); }
  int64_t compare_and_swap(int64_t expected, int64_t desired) override {
    v_->counter.compare_exchange_strong(expected, desired);  // expected becomes the value before
    return expected;
  }
  void store(int slot, int64_t value) override {
    check_slot(slot, 1, v_->slots);
    v_->board[static_cast<size_t>(slot)].store(value);
  }
  void load(std::span<int64_t> values) override {
    check_slot(0, values.size(), v_->slots);
    for (size_t i = 0; i < values.size(); ++i) values[i] = v_->board[i].load();
  }
  int slots() const override { return v_->slots; }

 private:
  std::shared_ptr<Shared> v_;
};

// Rank 0 sends the address of its shared_ptr; every other rank copies it (the
// reference count is atomic) before the barrier lets rank 0's copy go out of scope.
std::unique_ptr<SharedCounter> threads_counter(Group& g, int slots) {
  using Ptr = std::shared_ptr<Shared>;
  Ptr mine;
  if (g.rank() == 0) {
    mine = std::make_shared<Shared>(slots);
    const auto addr = reinterpret_cast<std::uintptr_t>(&mine);
    for (int r = 1; r < g.size(); ++r)
      g.send(r, 0, std::as_bytes(std::span<const std::uintptr_t>(&addr, 1)));
  } else {
    std::uintptr_t addr = 0;
    g.recv(0, 0, std::as_writable_bytes(std::span<std::uintptr_t>(&addr, 1)));
    mine = *reinterpret_cast<const Ptr*>(addr);
  }
  barrier(g);
  return std::make_unique<AtomicCounter>(std::move(mine));
}

class MpiCounter final : public SharedCounter {
 public:
  // Takes `comm` (a private duplicate) and `win`, whose epoch it opens.
  // The window holds the counter at displacement 0 and the board's `slots` after it.
  MpiCounter(MPI_Comm comm, MPI_Win win, int slots) : comm_(comm), win_(win), slots_(slots) {
    MPI_Win_lock_all(MPI_MODE_NOCHECK, win_);
    MPI_Barrier(comm_);  // rank 0's zero is in place before anyone adds
  }
  ~MpiCounter() override {
    if (std::uncaught_exceptions() > 0) return;  // MPI_Win_free would wait for the others
    MpiLock lock;
    MPI_Win_unlock_all(win_);
    MPI_Win_free(&win_);
    MPI_Comm_free(&comm_);
  }
  int64_t fetch_add(int64_t delta) override {
    MpiLock lock;
    int64_t before = 0;
    MPI_Fetch_and_op(&delta, &before, MPI_INT64_T, 0, 0, MPI_SUM, win_);
    MPI_Win_flush(0, win_);
    return before;
  }
  int64_t compare_and_swap(int64_t expected, int64_t desired) override {
    MpiLock lock;
    int64_t before = 0;
    MPI_Compare_and_swap(&desired, &expected, &before, MPI_INT64_T, 0, 0, win_);
    MPI_Win_flush(0, win_);
    return before;
  }
  void store(int slot, int64_t value) override {
    check_slot(slot, 1, slots_);
    MpiLock lock;
    MPI_Accumulate(&value, 1, MPI_INT64_T, 0, 1 + slot, 1, MPI_INT64_T, MPI_REPLACE, win_);
    MPI_Win_flush(0, win_);
  }
  void load(std::span<int64_t> values) override {
    check_slot(0, values.size(), slots_);
    if (values.empty()) return;
    MpiLock lock;
    const int n = static_cast<int>(values.size());
    ignored_.resize(values.size());  // MPI_NO_OP reads no origin buffer
    MPI_Get_accumulate(ignored_.data(), n, MPI_INT64_T, values.data(), n, MPI_INT64_T, 0, 1, n,
                       MPI_INT64_T, MPI_NO_OP, win_);
    MPI_Win_flush(0, win_);
  }
  int slots() const override { return slots_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Win win_ = MPI_WIN_NULL;
  int slots_ = 0;
  std::vector<int64_t> ignored_;
};

// Null on every rank when the window cannot be made on some rank (OpenMPI picks an
// osc component per window: without shared memory or an RDMA-capable transport, e.g.
// osc/pt2pt under MPI_THREAD_MULTIPLE, MPI_Win_allocate fails). Errors return rather
// than abort on the duplicate, and the ranks agree before using the window.
std::unique_ptr<SharedCounter> mpi_counter(MPI_Comm group_comm, int slots) {
  MpiLock lock;
  MPI_Comm comm = MPI_COMM_NULL;
  MPI_Comm_dup(group_comm, &comm);
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  const MPI_Aint bytes = rank == 0 ? static_cast<MPI_Aint>((1 + slots) * sizeof(int64_t)) : 0;
  int64_t* base = nullptr;
  MPI_Win win = MPI_WIN_NULL;
  int ok = MPI_Win_allocate(bytes, sizeof(int64_t), MPI_INFO_NULL, comm, &base, &win) ==
           MPI_SUCCESS;
  if (ok && rank == 0) std::fill(base, base + 1 + slots, int64_t{0});
  int all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
  if (all == 0) {
    // A window made on some ranks only cannot be freed (MPI_Win_free is collective over
    // all of them); that is left to MPI_Finalize.
    MPI_Comm_free(&comm);
    return nullptr;
  }
  return std::make_unique<MpiCounter>(comm, win, slots);
}

}  // namespace

std::unique_ptr<SharedCounter> make_shared_counter(Group& group, int slots) {
  if (slots < 0) throw UsageError("shared counter: a negative number of board slots");
  if (group.backend() == Backend::threads) return threads_counter(group, slots);
  auto* t = dynamic_cast<MpiTransport*>(&group.transport());
  if (t == nullptr) return nullptr;  // wrapped (emulated links): no communicator to hand
  return mpi_counter(t->comm(), slots);
}

}  // namespace plait::comm
