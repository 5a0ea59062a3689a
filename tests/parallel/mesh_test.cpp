// The dp x tp x pp mesh: coordinates round-trip, the header's worked example holds,
// groups along each axis partition the world, and make_mesh_groups builds the groups
// the pure functions describe (checked by an allreduce of world ranks in each).
#include "parallel/mesh.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <numeric>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "comm/collectives.h"
#include "comm/comm.h"
#include "util/error.h"

namespace plait {
namespace {

std::vector<MeshShape> shapes() {
  std::vector<MeshShape> out;
  for (int dp = 1; dp <= 4; ++dp)
    for (int tp = 1; tp <= 4; ++tp)
      for (int pp = 1; pp <= 4; ++pp) out.push_back({dp, tp, pp});
  out.push_back({3, 5, 7});
  return out;
}

TEST(Mesh, CoordinatesRoundTrip) {
  for (const MeshShape& m : shapes()) {
    std::set<int> seen;
    for (int r = 0; r < m.world(); ++r) {
      const MeshCoord c = mesh_coord(m, r);
      ASSERT_EQ(mesh_rank(m, c), r) << m.dp << m.tp << m.pp;
      ASSERT_EQ(c.tp, r % m.tp);  // tensor-parallel ranks are adjacent
      ASSERT_EQ(c.pp, r / (m.dp * m.tp));  // stages are outermost
      seen.insert(c.dp + m.dp * (c.tp + m.tp * c.pp));
    }
    EXPECT_EQ(static_cast<int>(seen.size()), m.world());
  }
}

TEST(Mesh, WorkedExampleFromTheHeader) {
  const MeshShape m{.dp = 2, .tp = 2, .pp = 2};
  // rank -> (dp, tp, pp)
  const std::vector<MeshCoord> table = {{0, 0, 0}, {0, 1, 0}, {1, 0, 0}, {1, 1, 0},
                                        {0, 0, 1}, {0, 1, 1}, {1, 0, 1}, {1, 1, 1}};
  for (int r = 0; r < 8; ++r) EXPECT_EQ(mesh_coord(m, r), table[r]) << r;
  EXPECT_EQ(mesh_group(m, 5, MeshAxis::tp), (std::vector<int>{4, 5}));
  EXPECT_EQ(mesh_group(m, 5, MeshAxis::dp), (std::vector<int>{5, 7}));
  EXPECT_EQ(mesh_group(m, 5, MeshAxis::pp), (std::vector<int>{1, 5}));
  EXPECT_EQ(mesh_group(m, 2, MeshAxis::dp), (std::vector<int>{0, 2}));
  EXPECT_EQ(mesh_group(m, 6, MeshAxis::pp), (std::vector<int>{2, 6}));
}

TEST(Mesh, OutOfRangeThrows) {
  const MeshShape m{2, 3, 4};
  EXPECT_THROW(mesh_coord(m, -1), std::invalid_argument);
  EXPECT_THROW(mesh_coord(m, 24), std::invalid_argument);
  EXPECT_THROW(mesh_rank(m, {2, 0, 0}), std::invalid_argument);
  EXPECT_THROW(mesh_rank(m, {0, 3, 0}), std::invalid_argument);
  EXPECT_THROW(mesh_rank(m, {0, 0, -1}), std::invalid_argument);
  EXPECT_THROW(mesh_coord({0, 1, 1}, 0), std::invalid_argument);
}

int coord(const MeshCoord& c, MeshAxis a) {
  return a == MeshAxis::dp ? c.dp : a == MeshAxis::tp ? c.tp : c.pp;
}

TEST(Mesh, GroupsAlongEachAxisPartitionTheWorld) {
  for (const MeshShape& m : shapes())
    for (MeshAxis a : {MeshAxis::dp, MeshAxis::tp, MeshAxis::pp}) {
      std::vector<int> count(m.world(), 0);
      for (int r = 0; r < m.world(); ++r) {
        const std::vector<int> g = mesh_group(m, r, a);
        const MeshCoord c = mesh_coord(m, r);
        ASSERT_EQ(g[coord(c, a)], r);  // ordered by the coordinate
        for (int i = 0; i < static_cast<int>(g.size()); ++i) {
          const MeshCoord o = mesh_coord(m, g[i]);
          ASSERT_EQ(coord(o, a), i);
          MeshCoord same = o;
          if (a == MeshAxis::dp) same.dp = c.dp;
          if (a == MeshAxis::tp) same.tp = c.tp;
          if (a == MeshAxis::pp) same.pp = c.pp;
          ASSERT_EQ(same, c);  // differs only along the axis
          // every group is listed by each of its members: count each once, by its first
          if (g[0] == r) ++count[g[i]];
        }
      }
      for (int r = 0; r < m.world(); ++r) ASSERT_EQ(count[r], 1) << "rank " << r;
    }
}

// What one rank saw of a group: its rank, size, members in order, and the sum of its
// members' world ranks by allreduce.
struct Seen {
  bool valid = false;
  int rank = -1, size = 0;
  std::string name;
  std::vector<int> members;
  float sum = 0;
};

Seen look(comm::Group& g) {
  Seen s;
  s.valid = g.valid();
  if (!s.valid) return s;
  s.rank = g.rank();
  s.size = g.size();
  s.name = g.name();
  for (int i = 0; i < g.size(); ++i) s.members.push_back(g.world_rank(i));
  std::vector<float> v(3, static_cast<float>(g.world_rank()));
  comm::allreduce(g, std::span<float>(v));
  s.sum = v[0];
  return s;
}

float sum_of(const std::vector<int>& v) { return std::accumulate(v.begin(), v.end(), 0.0f); }

void expect_group(const Seen& s, const std::vector<int>& members, int rank,
                  const std::string& name) {
  ASSERT_TRUE(s.valid) << name;
  EXPECT_EQ(s.name, name);
  EXPECT_EQ(s.members, members) << name;
  EXPECT_EQ(s.size, static_cast<int>(members.size())) << name;
  EXPECT_EQ(s.rank, rank) << name;
  EXPECT_EQ(s.sum, sum_of(members)) << name;
}

TEST(Mesh, MakeMeshGroupsUnderThreads) {
  const MeshShape m{.dp = 2, .tp = 2, .pp = 2};
  std::mutex mu;
  std::vector<std::vector<Seen>> seen(8);
  comm::ThreadsOptions o;
  o.world = 8;
  o.ranks_per_node = 2;
  o.timeout_s = 30;
  comm::run_threads(o, [&](comm::Comm& c) {
    MeshGroups g = make_mesh_groups(c.world(), m);
    std::vector<Seen> mine = {look(g.dp), look(g.tp), look(g.pp), look(g.mp), look(g.embed)};
    std::lock_guard lock(mu);
    seen[c.rank()] = std::move(mine);
  });
  for (int r = 0; r < 8; ++r) {
    SCOPED_TRACE("rank " + std::to_string(r));
    const MeshCoord c = mesh_coord(m, r);
    expect_group(seen[r][0], mesh_group(m, r, MeshAxis::dp), c.dp, "dp");
    expect_group(seen[r][1], mesh_group(m, r, MeshAxis::tp), c.tp, "tp");
    expect_group(seen[r][2], mesh_group(m, r, MeshAxis::pp), c.pp, "pp");
    const std::vector<int> mp = c.dp == 0 ? std::vector<int>{0, 1, 4, 5}
                                          : std::vector<int>{2, 3, 6, 7};
    expect_group(seen[r][3], mp, c.tp + 2 * c.pp, "mp");
    // pp == 2: both stages are end stages, so embed == the pp group.
    expect_group(seen[r][4], mesh_group(m, r, MeshAxis::pp), c.pp, "embed");
  }
}

TEST(Mesh, EmbedGroupSkipsMiddleStages) {
  const MeshShape m{.dp = 1, .tp = 2, .pp = 3};
  std::mutex mu;
  std::vector<Seen> embed(6);
  comm::ThreadsOptions o;
  o.world = 6;
  o.timeout_s = 30;
  comm::run_threads(o, [&](comm::Comm& c) {
    MeshGroups g = make_mesh_groups(c.world(), m);
    Seen s = look(g.embed);
    std::lock_guard lock(mu);
    embed[c.rank()] = s;
  });
  for (int r : {2, 3}) EXPECT_FALSE(embed[r].valid) << r;
  expect_group(embed[0], {0, 4}, 0, "embed");
  expect_group(embed[5], {1, 5}, 1, "embed");
  expect_group(embed[4], {0, 4}, 1, "embed");
}

TEST(Mesh, NoEmbedGroupWithoutPipelineAndWrongWorldThrows) {
  comm::ThreadsOptions o;
  o.world = 4;
  o.timeout_s = 30;
  std::mutex mu;
  int valid_embeds = 0;
  comm::run_threads(o, [&](comm::Comm& c) {
    MeshGroups g = make_mesh_groups(c.world(), {.dp = 2, .tp = 2, .pp = 1});
    std::lock_guard lock(mu);
    valid_embeds += g.embed.valid();
  });
  EXPECT_EQ(valid_embeds, 0);
  EXPECT_THROW(comm::run_threads(o,
                                 [](comm::Comm& c) {
                                   make_mesh_groups(c.world(), {.dp = 2, .tp = 2, .pp = 2});
                                 }),
               UsageError);
}

}  // namespace
}  // namespace plait
