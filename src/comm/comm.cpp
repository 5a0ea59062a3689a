#include "comm/comm.h"

#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

#include "comm/mpi_transport.h"
#include "comm/threads_transport.h"
#include "comm/wait_board.h"
#include "util/error.h"

namespace plait::comm {
namespace {

std::string describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown exception";
  }
}

void check(const ThreadsOptions& o) {
  if (o.world < 1)
    throw UsageError("workers must be at least 1 (got " + std::to_string(o.world) + ")");
  if (o.ranks_per_node < 0)
    throw UsageError("ranks per node must be positive (got " + std::to_string(o.ranks_per_node) +
                     ")");
}

Group threads_world_group(const std::shared_ptr<ThreadsWorld>& world, int rank, double timeout) {
  std::vector<int> ranks(world->size()), nodes(world->size());
  std::iota(ranks.begin(), ranks.end(), 0);
  for (int r = 0; r < world->size(); ++r) nodes[r] = world->node_of(r);
  auto coll = std::make_shared<ThreadsTransport>(world, ranks, rank, 0, "world", timeout);
  auto p2p = coll->dup("world");
  return Group(Backend::threads, std::move(coll), std::move(p2p), std::move(ranks),
               std::move(nodes));
}

}  // namespace

void run_threads(const ThreadsOptions& o, const Worker& worker) {
  check(o);
  ThreadsConfig cfg;
  cfg.world = o.world;
  cfg.ranks_per_node = o.ranks_per_node;
  cfg.intra = o.intra;
  cfg.inter = o.inter;
  auto world = std::make_shared<ThreadsWorld>(cfg);
  std::mutex m;
  std::exception_ptr first;
  auto body = [&](int rank) {
    try {
      Comm comm(Backend::threads, threads_world_group(world, rank, o.timeout_s),
                [world, rank] { return world->board().activity(rank); });
      worker(comm);
      world->board().set_finished(rank);
    } catch (...) {
      world->board().set_finished(rank);
      {
        std::lock_guard lock(m);
        if (!first) first = std::current_exception();
      }
      world->abort(rank, describe(std::current_exception()));
    }
  };
  std::vector<std::thread> threads;
  for (int r = 0; r < o.world; ++r) threads.emplace_back(body, r);
  for (auto& t : threads) t.join();
  if (first) std::rethrow_exception(first);
}

void run_mpi(const MpiOptions& o, const Worker& worker) {
  mpi_initialize();
  try {
    std::vector<int> nodes = mpi_world_nodes(o.ranks_per_node);
    std::vector<int> ranks(nodes.size());
    std::iota(ranks.begin(), ranks.end(), 0);
    auto coll = std::make_shared<MpiTransport>(MPI_COMM_WORLD, "world", o.timeout_s);
    auto p2p = coll->dup("world");
    Comm comm(Backend::mpi,
              Group(Backend::mpi, std::move(coll), std::move(p2p), std::move(ranks),
                    std::move(nodes)),
              [] { return mpi_wait_board().activity(0); });
    worker(comm);
  } catch (...) {
    mpi_shutdown(false);
    throw;
  }
  mpi_shutdown(true);
}

}  // namespace plait::comm
