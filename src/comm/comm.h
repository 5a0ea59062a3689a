// Starting workers: N ranks as threads of this process (run_threads), or this process
// as one rank of an MPI job (run_mpi). Either way every rank runs the same function
// with its own Comm, whose world() group is the starting point for sub-groups and
// collectives. Only this layer knows which backend runs.
//
//   comm::ThreadsOptions o;
//   o.world = 8;
//   o.ranks_per_node = 2;                      // 4 emulated nodes
//   o.inter = parse_link("20us:1GB/s");        // slow links between them
//   comm::run_threads(o, [&](comm::Comm& c) {
//     comm::Group dp = c.world().split(c.rank() % 2, c.rank(), "dp");
//     comm::allreduce(dp, grads, {comm::Algorithm::hierarchical});
//   });
#pragma once
#include <functional>
#include <string>

#include "comm/group.h"
#include "util/link.h"

namespace plait::comm {

inline constexpr double kDefaultTimeoutSeconds = 60.0;

struct ThreadsOptions {
  int world = 1;           // number of ranks (threads)
  int ranks_per_node = 0;  // consecutive ranks per emulated node; 0: all on one node
  LinkSpec intra, inter;   // emulated links within / between nodes; zero: real speed
  double timeout_s = kDefaultTimeoutSeconds;  // per blocking wait; <= 0: none
};

struct MpiOptions {
  int ranks_per_node = 0;  // 0: nodes are the machines (shared-memory split)
  double timeout_s = kDefaultTimeoutSeconds;
};

// One rank's handle on the run.
class Comm {
 public:
  Comm(Backend backend, Group world, std::function<std::string()> activity = {})
      : backend_(backend), world_(std::move(world)), activity_(std::move(activity)) {}
  Group& world() { return world_; }
  int rank() const { return world_.rank(); }
  int size() const { return world_.size(); }
  Backend backend() const { return backend_; }
  // What this rank is doing in the comm layer now (WaitBoard::activity), for heartbeats;
  // callable from any thread.
  std::function<std::string()> activity_source() const { return activity_; }

 private:
  Backend backend_;
  Group world_;
  std::function<std::string()> activity_;
};

using Worker = std::function<void(Comm&)>;

// Runs `worker` on o.world threads and joins them. The first exception a worker throws
// is rethrown here after all have ended; it also aborts the run, so that every other
// rank's current or next wait fails at once (RuntimeError naming the failed rank)
// instead of hanging. UsageError for a bad world or ranks_per_node.
void run_threads(const ThreadsOptions& o, const Worker& worker);

// Initialises MPI (MPI_THREAD_MULTIPLE) if needed, runs `worker` as this process's
// rank, and finalises MPI. If the worker throws, MPI is left unfinalised and the
// exception propagates: the process should exit non-zero, and mpirun then stops the
// other ranks. Once per process.
void run_mpi(const MpiOptions& o, const Worker& worker);

// The MPI library this binary is linked with, as it names itself (the first line of
// MPI_Get_library_version, which needs no MPI_Init), e.g. "Open MPI v4.1.4, ...".
std::string mpi_library();

}  // namespace plait::comm
