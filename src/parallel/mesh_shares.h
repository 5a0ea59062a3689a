// The first step's split of the global batch over the data-parallel replicas of a
// dp x tp x pp mesh (docs/BALANCE.md, "Replicas of a model-parallel mesh").
//
// Equal without --speeds. With --speeds (one per world rank, rank order of
// layout/mesh_shape.h) a replica's speed is its slowest rank's: a pipeline runs at
// its slowest stage's pace, a tensor-parallel block at its slowest slice's. Shares
// are proportional to the replicas' speeds (largest remainder, balance/split.h) in
// units of `granule` sequences (a pipeline's M micro-batches: each replica keeps M
// micro-batches of share / M sequences). Any split trains the same model: gradients
// are sums over sequences divided once by the global batch.
#pragma once
#include <cstdint>
#include <vector>

#include "layout/mesh_shape.h"

namespace plait {

// UsageError naming --speeds when the speeds are not one per rank, when batch is not
// a whole number of granules, or when a replica would get no granule.
std::vector<int64_t> mesh_shares(int64_t batch, const std::vector<double>& speeds,
                                 const MeshShape& shape, int granule);

}  // namespace plait
