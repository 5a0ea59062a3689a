// The communicator groups of a dp x tp x pp mesh (the rank formula and the worked
// example: layout/mesh_shape.h).
#pragma once
#include "comm/group.h"
#include "layout/mesh_shape.h"

namespace plait {

// The communicator groups of one rank.
struct MeshGroups {
  comm::Group dp, tp, pp;  // along each axis; group rank == that axis's coordinate
  comm::Group mp;          // the model-parallel group: the tp*pp ranks sharing this
                           // rank's dp coordinate, ordered by (pp, tp)
  comm::Group embed;       // {first stage, last stage} with the same (dp, tp), when
                           // pp > 1 (the tied wte's gradient is summed over it);
                           // invalid (default Group) on middle stages and when pp == 1
};

// Collective over `world` (every rank calls it, in the same order of collectives):
// splits it into the groups above, named "dp", "tp", "pp", "mp", "embed".
// UsageError if world.size() != m.world() or an axis is < 1.
MeshGroups make_mesh_groups(comm::Group& world, const MeshShape& m);

}  // namespace plait
