// The MPI backend: each rank is an MPI process; one communicator per context.
//
// Sends and receives are MPI_Isend / MPI_Irecv cut into segments of kSegmentBytes
// (both sides cut a message the same way, by its size, and segments of one message
// share its tag, so MPI's ordering keeps them in place). A receive that sums keeps
// kWindow segments in flight, each landing in its slot of a small scratch ring; as a
// segment completes it is added into its destination and its slot is posted again
// for the segment kWindow further on. The scratch (kWindow x 512 KiB) stays in cache,
// so a summed byte crosses memory once less than with a message-sized temporary
// buffer; and scratch is pooled, so a steady stream of collectives allocates nothing
// (no page faults per call).
//
// Waits poll MPI_Test (spinning; yielding too when ranks outnumber cores) until done
// or the timeout, which
// throws TimeoutError naming the peer waited for. The process is then expected to
// exit with an error, which makes mpirun stop the other ranks.
//
// MPI tags are integers up to MPI_TAG_UB; our 64-bit tags are folded into that range.
// Folding is safe because messages between a pair in one context are matched in order
// and every collective posts its messages in the same order on both sides.
#pragma once
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "comm/mpi_include.h"
#include "comm/transport.h"
#include "comm/wait_board.h"

namespace plait::comm {

// Reusable scratch buffers, handed out by size.
class ScratchPool {
 public:
  std::unique_ptr<std::vector<std::byte>> take(std::size_t bytes);
  void give(std::unique_ptr<std::vector<std::byte>> buf);

 private:
  std::mutex m_;
  std::vector<std::unique_ptr<std::vector<std::byte>>> free_;
};

class MpiTransport final : public Transport {
 public:
  static constexpr std::size_t kSegmentBytes = 512 * 1024;
  static constexpr std::size_t kWindow = 4;  // summing segments in flight per receive

  // Takes ownership of `comm` (freed on destruction) unless it is MPI_COMM_WORLD.
  MpiTransport(MPI_Comm comm, std::string name, double timeout_s);
  ~MpiTransport() override;
  MpiTransport(const MpiTransport&) = delete;
  MpiTransport& operator=(const MpiTransport&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  const std::string& name() const override { return name_; }

  Request isend(int peer, std::uint64_t tag, ConstBytes data) override;
  Request irecv(int peer, std::uint64_t tag, Bytes dst, Arrive how, DType dtype) override;
  void wait(Request& r, const OpLabel& op) override;
  bool arrived(const Request& r) override;

  std::shared_ptr<Transport> split(int color, int key, const std::vector<int>& members,
                                   const std::string& name) override;
  std::shared_ptr<Transport> dup(const std::string& name) override;
  std::uint64_t max_tag() const override { return static_cast<std::uint64_t>(tag_ub_); }
  bool native_allreduce(Bytes data, DType dtype, const OpLabel& op) override;
  MPI_Comm comm() const { return comm_; }  // for RMA windows (shared_counter.h)

 private:
  struct Send;
  struct Recv;
  int mpi_tag(std::uint64_t tag) const;
  // Polls `done` until it returns true; throws TimeoutError naming `peer` after the timeout.
  template <class Done>
  void poll(Done done, int peer, const OpLabel& op);
  void wait_recv(Recv& r, const OpLabel& op);
  void post_segment(Recv& r, std::size_t i);

  MPI_Comm comm_;
  int rank_ = 0, size_ = 0, tag_ub_ = 32767;
  std::string name_;
  std::vector<int> world_ranks_;  // group rank -> world rank
  ScratchPool pool_;
};

// This process's waits (slot 0: its rank), posted by MpiTransport's polls for
// heartbeats; peers are world ranks.
WaitBoard& mpi_wait_board();

// ---- the MPI session (mpi_session.cpp) ----------------------------------------------

// MPI_Init_thread(MPI_THREAD_MULTIPLE) unless MPI is initialised already; throws
// RuntimeError if MPI was finalised.
void mpi_initialize();
// Stops the watchdog, then calls MPI_Finalize if `finalize` (not after a failure:
// the other ranks may be blocked, and finalising would wait for them), and not under
// mpirun's recovery flags (a dead peer can block the finalize fence).
void mpi_shutdown(bool finalize);
// World rank -> node index: ranks / ranks_per_node when > 0, otherwise the machines
// found by MPI_Comm_split_type(MPI_COMM_TYPE_SHARED), numbered by their lowest rank.
std::vector<int> mpi_world_nodes(int ranks_per_node);

// True when this machine runs more ranks than it has cores (set by mpi_world_nodes).
bool mpi_oversubscribed();

// Serialises MPI calls when MPI gave less than MPI_THREAD_MULTIPLE.
class MpiLock {
 public:
  MpiLock();
  ~MpiLock();
  MpiLock(const MpiLock&) = delete;
  MpiLock& operator=(const MpiLock&) = delete;
};

// A blocking MPI call cannot time out; the watchdog ends the job with `message` if it
// is still armed at `seconds` from now (0 or less: never).
class Watchdog {
 public:
  Watchdog(double seconds, std::string message);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  std::uint64_t id_ = 0;
};

}  // namespace plait::comm
