#include "parallel/mesh.h"

#include <string>

#include "util/error.h"

namespace plait {

MeshGroups make_mesh_groups(comm::Group& world, const MeshShape& m) {
  if (!valid_shape(m) || world.size() != m.world())
    throw UsageError("mesh " + to_string(m) + " does not fit a world of " +
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
