// Mesh: the dp x tp x pp layout of the ranks, as pure functions of (shape, rank):
// the ONE rank formula, used by the trainer (parallel/mesh.h builds the communicator
// groups from it) and the simulator (plan/local_run.cpp places its ranks with it).
//
// Every rank has a coordinate on three axes: tp (its tensor-parallel slice of every
// block), dp (its data-parallel replica) and pp (its pipeline stage). Ranks are laid
// out with tensor parallelism innermost, then data parallelism, with pipeline stages
// outermost:
//
//   rank = tp + T * (dp + D * pp)          (T = shape.tp, D = shape.dp)
//
// Tensor-parallel ranks are adjacent, so with ranks placed on nodes in blocks of
// consecutive world ranks they share a node: their two allreduces per block per
// pass (the heaviest, latency-bound traffic) stay on the fastest links. Data-parallel
// replicas of one stage come next (one gradient reduction per step, overlapped with
// the backward pass); pipeline stages, which only exchange activations point to
// point, are outermost.
//
// WORKED EXAMPLE: dp2 * tp2 * pp2 on 8 ranks (world ranks 0..7):
//
//   rank | dp tp pp | tp group | dp group | pp group | mp group    | embed group
//   -----+----------+----------+----------+----------+-------------+------------
//     0  |  0  0  0 |  {0,1}   |  {0,2}   |  {0,4}   | {0,1,4,5}   |  {0,4}
//     1  |  0  1  0 |  {0,1}   |  {1,3}   |  {1,5}   | {0,1,4,5}   |  {1,5}
//     2  |  1  0  0 |  {2,3}   |  {0,2}   |  {2,6}   | {2,3,6,7}   |  {2,6}
//     3  |  1  1  0 |  {2,3}   |  {1,3}   |  {3,7}   | {2,3,6,7}   |  {3,7}
//     4  |  0  0  1 |  {4,5}   |  {4,6}   |  {0,4}   | {0,1,4,5}   |  {0,4}
//     5  |  0  1  1 |  {4,5}   |  {5,7}   |  {1,5}   | {0,1,4,5}   |  {1,5}
//     6  |  1  0  1 |  {6,7}   |  {4,6}   |  {2,6}   | {2,3,6,7}   |  {2,6}
//     7  |  1  1  1 |  {6,7}   |  {5,7}   |  {3,7}   | {2,3,6,7}   |  {3,7}
//
// Each group is listed in group-rank order: along an axis, a member's group rank is
// its coordinate on that axis; the mp group is ordered by (pp, tp); the embed group is
// {first stage, last stage}. With 2 ranks per node, nodes are {0,1} {2,3} {4,5} {6,7}:
// exactly the tp groups.
#pragma once
#include <string>
#include <vector>

namespace plait {

enum class MeshAxis { dp, tp, pp };

struct MeshShape {
  int dp = 1, tp = 1, pp = 1;
  int world() const { return dp * tp * pp; }
};

struct MeshCoord {
  int dp = 0, tp = 0, pp = 0;
  bool operator==(const MeshCoord&) const = default;
};

// rank = tp + T * (dp + D * pp). Both throw std::invalid_argument for a shape with an
// axis < 1, a rank outside [0, world) or a coordinate outside its axis.
MeshCoord mesh_coord(const MeshShape& m, int rank);
int mesh_rank(const MeshShape& m, const MeshCoord& c);

// The world ranks of `rank`'s group along `axis` (the ranks that differ from it only
// in that coordinate), ordered by that coordinate; size = the axis's extent.
std::vector<int> mesh_group(const MeshShape& m, int rank, MeshAxis axis);

// "dp2*tp1*pp4"
std::string to_string(const MeshShape& m);
bool valid_shape(const MeshShape& m);  // every axis >= 1

// A coordinate's value on `axis`, readable and writable.
int& coord_on(MeshCoord& c, MeshAxis axis);
int coord_of(const MeshCoord& c, MeshAxis axis);

}  // namespace plait
