// α-β cost of one allreduce by each sync method: the one place the formulas live.
// Used by the planner, the simulator, and `plait bench comm` (predicted column).
//
// Model: p ranks in nodes of k ranks (p = k * nodes). A message of n bytes over a
// link costs α + n/bw. Steps within one phase run concurrently on distinct links;
// a rank's link is the bottleneck, so a phase costs (steps x α + bytes-per-rank / bw).
// Ranks are numbered node by node (ranks 0..k-1 share node 0). The per-algorithm
// formulas are written out at the top of collective_cost.cpp.
#pragma once
#include <array>
#include <string>

#include "layout/sync.h"
#include "util/link.h"

namespace plait::plan {

// The algorithms the model has a formula of its own for: every one of layout/sync.h
// but mpi (OpenMPI picks its algorithm at run time; allreduce_cost costs it as ring).
inline constexpr auto kCostedAlgorithms = [] {
  std::array<SyncAlgorithm, kAlgorithms.size() - 1> out{};
  std::size_t i = 0;
  for (SyncAlgorithm a : kAlgorithms)
    if (a != SyncAlgorithm::mpi) out[i++] = a;
  return out;
}();

struct Topology {
  int world = 1;           // p
  int ranks_per_node = 1;  // k (divides p)
  LinkSpec intra;          // between ranks of one node
  LinkSpec inter;          // between nodes
  int servers = 1;         // parameter-server shards (ps only)
};

struct CollectiveCost {
  double seconds = 0;         // predicted wall time
  int steps = 0;              // sequential message steps (latency terms)
  double bytes_per_rank = 0;  // bytes sent by the busiest rank
};

// Allreduce of `bytes` (each rank's buffer size) by `method` on `topo`.
// Zero when there is nothing to do (world <= 1 or bytes <= 0).
CollectiveCost allreduce_cost(SyncAlgorithm method, const Topology& topo, double bytes);

}  // namespace plait::plan
