#include "layout/sync.h"

#include <algorithm>

#include "util/error.h"

namespace plait {

SyncAlgorithm parse_algorithm(const std::string& name) {
  for (SyncAlgorithm a : kAlgorithms)
    if (name == to_string(a)) return a;
  if (name == "tree" || name == "hd") return SyncAlgorithm::halving_doubling;
  throw UsageError("unknown allreduce algorithm '" + name + "' (expected " + algorithm_names() +
                   ")");
}

std::string algorithm_names(bool in_process) {
  std::string out;
  for (SyncAlgorithm a : kAlgorithms)
    if (!in_process || a != SyncAlgorithm::mpi)
      out += (out.empty() ? "" : ", ") + std::string(to_string(a));
  return out;
}

SyncChoice choose_sync(std::optional<SyncAlgorithm> chosen, int n, int nodes) {
  if (chosen) return {*chosen, std::string("sync ") + to_string(*chosen) + " (--sync)"};
  const int per_node = n / std::max(1, nodes);
  if (nodes > 1 && per_node > 1)
    return {SyncAlgorithm::hierarchical,
            "sync hierarchical: " + std::to_string(nodes) + " nodes of " +
                std::to_string(per_node) + " workers, so reduce inside nodes first and "
                "cross the slow links once per node"};
  if (n == 2)
    return {SyncAlgorithm::direct,
            "sync direct: 2 workers, one exchange each way moves no more than a ring"};
  return {SyncAlgorithm::ring,
          "sync ring: " + std::to_string(n) + " workers, bandwidth-optimal (each sends "
          "2(N-1)/N of the gradients) whatever N"};
}

}  // namespace plait
