#include "comm/shared_counter.h"

#include <atomic>
#include <cstring>
#include <exception>

#include "comm/collectives.h"
#include "comm/mpi_include.h"
#include "comm/mpi_transport.h"
#include "util/error.h"

namespace plait::comm {
namespace {

class AtomicCounter final : public SharedCounter {
 public:
  explicit AtomicCounter(std::shared_ptr<std::atomic<int64_t>> v) : v_(std::move(v)) {}
  int64_t fetch_add(int64_t delta) override { return v_->fetch_add(delta); }
  int64_t compare_and_swap(int64_t expected, int64_t desired) override {
    v_->compare_exchange_strong(expected, desired);  // expected becomes the value before
    return expected;
  }

 private:
  std::shared_ptr<std::atomic<int64_t>> v_;
};

// Rank 0 sends the address of its shared_ptr; every other rank copies it (the
// reference count is atomic) before the barrier lets rank 0's copy go out of scope.
std::unique_ptr<SharedCounter> threads_counter(Group& g) {
  using Ptr = std::shared_ptr<std::atomic<int64_t>>;
  Ptr mine;
  if (g.rank() == 0) {
    mine = std::make_shared<std::atomic<int64_t>>(0);
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
  MpiCounter(MPI_Comm comm, MPI_Win win) : comm_(comm), win_(win) {
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

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Win win_ = MPI_WIN_NULL;
};

// Null on every rank when the window cannot be made on some rank (OpenMPI picks an
// osc component per window: without shared memory or an RDMA-capable transport, e.g.
// osc/pt2pt under MPI_THREAD_MULTIPLE, MPI_Win_allocate fails). Errors return rather
// than abort on the duplicate, and the ranks agree before using the window.
std::unique_ptr<SharedCounter> mpi_counter(MPI_Comm group_comm) {
  MpiLock lock;
  MPI_Comm comm = MPI_COMM_NULL;
  MPI_Comm_dup(group_comm, &comm);
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  const MPI_Aint bytes = rank == 0 ? sizeof(int64_t) : 0;
  int64_t* base = nullptr;
  MPI_Win win = MPI_WIN_NULL;
  int ok = MPI_Win_allocate(bytes, sizeof(int64_t), MPI_INFO_NULL, comm, &base, &win) ==
           MPI_SUCCESS;
  if (ok && rank == 0) *base = 0;
  int all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
  if (all == 0) {
    // A window made on some ranks only cannot be freed (MPI_Win_free is collective over
    // all of them); that is left to MPI_Finalize.
    MPI_Comm_free(&comm);
    return nullptr;
  }
  return std::make_unique<MpiCounter>(comm, win);
}

}  // namespace

std::unique_ptr<SharedCounter> make_shared_counter(Group& group) {
  if (group.backend() == Backend::threads) return threads_counter(group);
  auto* t = dynamic_cast<MpiTransport*>(&group.transport());
  if (t == nullptr) return nullptr;  // wrapped (emulated links): no communicator to hand
  return mpi_counter(t->comm());
}

}  // namespace plait::comm
