#include "parallel/mesh.h"

#include <stdexcept>
#include <string>

#include "util/error.h"

namespace plait {
namespace {

std::string shape_str(const MeshShape& m) {
  return "dp" + std::to_string(m.dp) + "*tp" + std::to_string(m.tp) + "*pp" +
         std::to_string(m.pp);
}

bool valid_shape(const MeshShape& m) { return m.dp >= 1 && m.tp >= 1 && m.pp >= 1; }

void check_shape(const MeshShape& m) {
  if (!valid_shape(m)) throw std::invalid_argument("mesh: bad shape " + shape_str(m));
}

int& coord_on(MeshCoord& c, MeshAxis axis) {
  return axis == MeshAxis::dp ? c.dp : axis == MeshAxis::tp ? c.tp : c.pp;
}

int coord_of(const MeshCoord& c, MeshAxis axis) {
  return axis == MeshAxis::dp ? c.dp : axis == MeshAxis::tp ? c.tp : c.pp;
}

int extent(const MeshShape& m, MeshAxis axis) {
  return axis == MeshAxis::dp ? m.dp : axis == MeshAxis::tp ? m.tp : m.pp;
}

}  // namespace

MeshCoord mesh_coord(const MeshShape& m, int rank) {
  check_shape(m);
  if (rank < 0 || rank >= m.world())
    throw std::invalid_argument("mesh: rank " + std::to_string(rank) + " outside " +
                                shape_str(m));
  return {.dp = rank / m.tp % m.dp, .tp = rank % m.tp, .pp = rank / (m.tp * m.dp)};
}

int mesh_rank(const MeshShape& m, const MeshCoord& c) {
  check_shape(m);
  if (c.dp < 0 || c.dp >= m.dp || c.tp < 0 || c.tp >= m.tp || c.pp < 0 || c.pp >= m.pp)
    throw std::invalid_argument("mesh: coordinate (dp " + std::to_string(c.dp) + ", tp " +
                                std::to_string(c.tp) + ", pp " + std::to_string(c.pp) +
                                ") outside " + shape_str(m));
  return c.tp + m.tp * (c.dp + m.dp * c.pp);
}

std::vector<int> mesh_group(const MeshShape& m, int rank, MeshAxis axis) {
  MeshCoord c = mesh_coord(m, rank);
  std::vector<int> ranks;
  for (int i = 0; i < extent(m, axis); ++i) {
    coord_on(c, axis) = i;
    ranks.push_back(mesh_rank(m, c));
  }
  return ranks;
}

MeshGroups make_mesh_groups(comm::Group& world, const MeshShape& m) {
  if (!valid_shape(m) || world.size() != m.world())
    throw UsageError("mesh " + shape_str(m) + " does not fit a world of " +
                     std::to_string(world.size()) + " ranks");
  const MeshCoord c = mesh_coord(m, world.rank());
  MeshGroups g;
  // Along an axis: color = the rank with that coordinate zeroed (unique per group),
  // key = the coordinate, so group rank == coordinate.
  const auto along = [&](MeshAxis axis, const char* name) {
    MeshCoord base = c;
    coord_on(base, axis) = 0;
    return world.split(mesh_rank(m, base), coord_of(c, axis), name);
  };
  g.dp = along(MeshAxis::dp, "dp");
  g.tp = along(MeshAxis::tp, "tp");
  g.pp = along(MeshAxis::pp, "pp");
  g.mp = world.split(c.dp, c.tp + m.tp * c.pp, "mp");  // ordered by (pp, tp)
  if (m.pp > 1) {
    const bool end_stage = c.pp == 0 || c.pp == m.pp - 1;
    g.embed = world.split(end_stage ? c.tp + m.tp * c.dp : -1, c.pp, "embed");
  }
  return g;
}

}  // namespace plait
