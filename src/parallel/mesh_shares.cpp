#include "parallel/mesh_shares.h"

#include <algorithm>
#include <limits>

#include "balance/split.h"
#include "util/error.h"

namespace plait {

std::vector<int64_t> mesh_shares(int64_t batch, const std::vector<double>& speeds,
                                 const MeshShape& shape, int granule) {
  granule = std::max(granule, 1);
  if (speeds.empty()) return balance::split_equal(batch, shape.dp);
  if (static_cast<int>(speeds.size()) != shape.world())
    throw UsageError("--speeds gives " + std::to_string(speeds.size()) + " speeds for the " +
                     std::to_string(shape.world()) + " ranks of the " + to_string(shape) +
                     " mesh (one per rank)");
  if (batch % granule != 0)
    throw UsageError("--speeds: --batch " + std::to_string(batch) + " is not a whole number of " +
                     std::to_string(granule) + "-sequence shares (one per micro-batch)");
  std::vector<double> replica(shape.dp, std::numeric_limits<double>::infinity());
  for (int r = 0; r < shape.world(); ++r) {
    double& v = replica[mesh_coord(shape, r).dp];
    v = std::min(v, speeds[r]);
  }
  std::vector<int64_t> shares = balance::split_proportional(batch / granule, replica);
  for (size_t d = 0; d < shares.size(); ++d) {
    if (shares[d] == 0)
      throw UsageError("--speeds: replica " + std::to_string(d) + " (speed " +
                       std::to_string(replica[d]) + ", its slowest rank's) gets no " +
                       (granule > 1 ? "micro-batches" : "sequences") + " of --batch " +
                       std::to_string(batch) + "; every replica needs a share");
    shares[d] *= granule;
  }
  return shares;
}

}  // namespace plait
