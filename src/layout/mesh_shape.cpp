#include "layout/mesh_shape.h"

#include <stdexcept>
#include <string>

namespace plait {

std::string to_string(const MeshShape& m) {
  return "dp" + std::to_string(m.dp) + "*tp" + std::to_string(m.tp) + "*pp" +
         std::to_string(m.pp);
}

bool valid_shape(const MeshShape& m) { return m.dp >= 1 && m.tp >= 1 && m.pp >= 1; }

int& coord_on(MeshCoord& c, MeshAxis axis) {
  return axis == MeshAxis::dp ? c.dp : axis == MeshAxis::tp ? c.tp : c.pp;
}

int coord_of(const MeshCoord& c, MeshAxis axis) {
  return axis == MeshAxis::dp ? c.dp : axis == MeshAxis::tp ? c.tp : c.pp;
}

namespace {

void check_shape(const MeshShape& m) {
  if (!valid_shape(m)) throw std::invalid_argument("mesh: bad shape " + to_string(m));
}

int extent(const MeshShape& m, MeshAxis axis) {
  return axis == MeshAxis::dp ? m.dp : axis == MeshAxis::tp ? m.tp : m.pp;
}

}  // namespace

MeshCoord mesh_coord(const MeshShape& m, int rank) {
  check_shape(m);
  if (rank < 0 || rank >= m.world())
    throw std::invalid_argument("mesh: rank " + std::to_string(rank) + " outside " +
                                to_string(m));
  return {.dp = rank / m.tp % m.dp, .tp = rank % m.tp, .pp = rank / (m.tp * m.dp)};
}

int mesh_rank(const MeshShape& m, const MeshCoord& c) {
  check_shape(m);
  if (c.dp < 0 || c.dp >= m.dp || c.tp < 0 || c.tp >= m.tp || c.pp < 0 || c.pp >= m.pp)
    throw std::invalid_argument("mesh: coordinate (dp " + std::to_string(c.dp) + ", tp " +
                                std::to_string(c.tp) + ", pp " + std::to_string(c.pp) +
                                ") outside " + to_string(m));
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

}  // namespace plait
