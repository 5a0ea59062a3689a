// The α-β allreduce costs against their closed forms (collective_cost.cpp's header).
#include "plan/collective_cost.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace plait::plan {
namespace {

constexpr double kAlphaIntra = 2e-6, kBwIntra = 10e9;
constexpr double kAlphaInter = 20e-6, kBwInter = 1e9;

Topology topo(int p, int k, int servers = 1) {
  Topology t;
  t.world = p;
  t.ranks_per_node = k;
  t.intra = {kAlphaIntra, kBwIntra};
  t.inter = {kAlphaInter, kBwInter};
  t.servers = servers;
  return t;
}
double intra(double m) { return kAlphaIntra + m / kBwIntra; }
double inter(double m) { return kAlphaInter + m / kBwInter; }

TEST(CollectiveCost, RingIsTwoPMinusOneStepsOfNOverP) {
  const double n = 8e6;
  for (int p : {2, 3, 5, 8}) {
    const CollectiveCost c = allreduce_cost(SyncAlgorithm::ring, topo(p, p), n);
    EXPECT_EQ(c.steps, 2 * (p - 1));
    EXPECT_DOUBLE_EQ(c.bytes_per_rank, 2.0 * (p - 1) / p * n);
    EXPECT_NEAR(c.seconds, 2 * (p - 1) * intra(n / p), 1e-12);
  }
}

TEST(CollectiveCost, RingAcrossNodesRunsAtTheInterNodeLink) {
  const double n = 8e6;
  const CollectiveCost c = allreduce_cost(SyncAlgorithm::ring, topo(8, 4), n);
  EXPECT_NEAR(c.seconds, 14 * inter(n / 8), 1e-12);
}

TEST(CollectiveCost, DirectSendsPMinusOneMessagesPerPhase) {
  const double n = 8e6;
  const CollectiveCost one_node = allreduce_cost(SyncAlgorithm::direct, topo(4, 4), n);
  EXPECT_EQ(one_node.steps, 6);
  EXPECT_DOUBLE_EQ(one_node.bytes_per_rank, 2 * 0.75 * n);
  EXPECT_NEAR(one_node.seconds, 2 * 3 * intra(n / 4), 1e-12);
  // 2 nodes of 4: per phase 3 messages inside the node, 4 to the other node.
  const CollectiveCost two_nodes = allreduce_cost(SyncAlgorithm::direct, topo(8, 4), n);
  EXPECT_NEAR(two_nodes.seconds, 2 * (3 * intra(n / 8) + 4 * inter(n / 8)), 1e-12);
}

TEST(CollectiveCost, ParameterServerLinkIsTheBottleneck) {
  const double n = 8e6;
  // One server receives p-1 whole buffers and sends p-1 back.
  const CollectiveCost one = allreduce_cost(SyncAlgorithm::ps, topo(8, 4, 1), n);
  EXPECT_NEAR(one.seconds, 2 * (3 * intra(n) + 4 * inter(n)), 1e-12);
  EXPECT_DOUBLE_EQ(one.bytes_per_rank, 2 * 7 * n);
  // K shards divide each server's load by K; K = p is the direct algorithm.
  const CollectiveCost two = allreduce_cost(SyncAlgorithm::ps, topo(8, 4, 2), n);
  EXPECT_NEAR(two.seconds, 2 * (3 * intra(n / 2) + 4 * inter(n / 2)), 1e-12);
  const CollectiveCost all = allreduce_cost(SyncAlgorithm::ps, topo(8, 4, 8), n);
  EXPECT_NEAR(all.seconds, allreduce_cost(SyncAlgorithm::direct, topo(8, 4), n).seconds, 1e-12);
  // More servers than ranks is clamped to p.
  EXPECT_NEAR(allreduce_cost(SyncAlgorithm::ps, topo(8, 4, 64), n).seconds, all.seconds, 1e-12);
}

TEST(CollectiveCost, HierarchicalReducesInsideNodesThenAcross) {
  const double n = 8e6;
  const int k = 4, q = 3, p = k * q;
  const CollectiveCost c = allreduce_cost(SyncAlgorithm::hierarchical, topo(p, k), n);
  EXPECT_EQ(c.steps, 2 * (k - 1) + 2 * (q - 1));
  EXPECT_NEAR(c.seconds, 2 * (k - 1) * intra(n / k) + 2 * (q - 1) * inter(n / k / q), 1e-12);
  EXPECT_DOUBLE_EQ(c.bytes_per_rank, 2.0 * (k - 1) / k * n + 2.0 * (q - 1) / q * n / k);
  // On one node it is the ring.
  EXPECT_DOUBLE_EQ(allreduce_cost(SyncAlgorithm::hierarchical, topo(4, 4), n).seconds,
                   allreduce_cost(SyncAlgorithm::ring, topo(4, 4), n).seconds);
}

TEST(CollectiveCost, HierarchicalBeatsRingWhenNodesAreJoinedBySlowLinks) {
  for (double n : {1e6, 64e6})
    EXPECT_LT(allreduce_cost(SyncAlgorithm::hierarchical, topo(16, 4), n).seconds,
              allreduce_cost(SyncAlgorithm::ring, topo(16, 4), n).seconds);
}

TEST(CollectiveCost, TreeTakesLog2PStepsPerPhase) {
  const double n = 8e6;
  const CollectiveCost c = allreduce_cost(SyncAlgorithm::halving_doubling, topo(8, 8), n);
  EXPECT_EQ(c.steps, 6);
  EXPECT_DOUBLE_EQ(c.bytes_per_rank, 2 * 7.0 / 8 * n);
  EXPECT_NEAR(c.seconds, 2 * (intra(n / 2) + intra(n / 4) + intra(n / 8)), 1e-12);
  // Partners 4 apart are on the other node when nodes hold 4 ranks.
  const CollectiveCost two = allreduce_cost(SyncAlgorithm::halving_doubling, topo(8, 4), n);
  EXPECT_NEAR(two.seconds, 2 * (intra(n / 2) + intra(n / 4) + inter(n / 8)), 1e-12);
  // Not a power of two: fold the extra ranks in (one step of n each way).
  const CollectiveCost six = allreduce_cost(SyncAlgorithm::halving_doubling, topo(6, 6), n);
  EXPECT_EQ(six.steps, 2 + 4);
  EXPECT_NEAR(six.seconds, 2 * intra(n) + 2 * (intra(n / 2) + intra(n / 4)), 1e-12);
  // The busiest rank (an odd one that took a fold) sends the unfold's n besides.
  EXPECT_DOUBLE_EQ(six.bytes_per_rank, n + 2 * 3.0 / 4 * n);
}

// comm/allreduce_halving_doubling.cpp folds ranks 2j into 2j+1 (j < r = p - p2), then
// runs on virtual ranks: v < r is real rank 2v+1, the others v + r. A step runs at the
// slowest link any of its pairs uses, in real ranks.
TEST(CollectiveCost, TreeWithFoldedRanksPaysTheLinksTheirRealRanksUse) {
  const double n = 8e6;
  // 6 ranks, 3 nodes of 2: folds (0,1) and (2,3) stay inside nodes 0 and 1; virtual
  // ranks 0..3 are real 1, 3, 4, 5, so the distance-1 pair (1,3) crosses nodes 0 and 1
  // and the distance-2 pairs (1,4), (3,5) cross too.
  const CollectiveCost six = allreduce_cost(SyncAlgorithm::halving_doubling, topo(6, 2), n);
  EXPECT_EQ(six.steps, 6);
  EXPECT_NEAR(six.seconds, 2 * intra(n) + 2 * (inter(n / 2) + inter(n / 4)), 1e-12);
  EXPECT_DOUBLE_EQ(six.bytes_per_rank, n + 1.5 * n);
  // 6 ranks, 2 nodes of 3: the fold pair (2,3) crosses nodes, so the fold runs at the
  // inter-node link.
  const CollectiveCost six3 = allreduce_cost(SyncAlgorithm::halving_doubling, topo(6, 3), n);
  EXPECT_NEAR(six3.seconds, 2 * inter(n) + 2 * (inter(n / 2) + inter(n / 4)), 1e-12);
  // 10 ranks, 2 nodes of 5: folds (0,1), (2,3) stay in node 0; virtual ranks 0..7 are
  // real 1, 3, 4, ..., 9, so step 0's pair (4,5) and step 1's (3,5) cross nodes.
  const CollectiveCost ten = allreduce_cost(SyncAlgorithm::halving_doubling, topo(10, 5), n);
  EXPECT_NEAR(ten.seconds,
              2 * intra(n) + 2 * (inter(n / 2) + inter(n / 4) + inter(n / 8)), 1e-12);
  // Nodes of 3 with a power of two: the distance-1 pair (2,3) crosses nodes although
  // 1 < 3, so step 0 is an inter-node step too.
  const CollectiveCost eight3 = allreduce_cost(SyncAlgorithm::halving_doubling, topo(8, 3), n);
  EXPECT_NEAR(eight3.seconds, 2 * (inter(n / 2) + inter(n / 4) + inter(n / 8)), 1e-12);
  // Nodes of 4 on a power of two are unchanged: two intra steps, then inter.
  EXPECT_NEAR(allreduce_cost(SyncAlgorithm::halving_doubling, topo(8, 4), n).seconds,
              2 * (intra(n / 2) + intra(n / 4) + inter(n / 8)), 1e-12);
}

TEST(CollectiveCost, TreeHasTheFewestStepsForSmallMessages) {
  const double n = 64;
  const double tree = allreduce_cost(SyncAlgorithm::halving_doubling, topo(16, 16), n).seconds;
  for (SyncAlgorithm m : {SyncAlgorithm::ring, SyncAlgorithm::direct, SyncAlgorithm::ps})
    EXPECT_LT(tree, allreduce_cost(m, topo(16, 16), n).seconds) << to_string(m);
}

TEST(CollectiveCost, NothingToDoCostsNothing) {
  for (SyncAlgorithm m : kCostedAlgorithms) {
    EXPECT_EQ(allreduce_cost(m, topo(1, 1), 1e6).seconds, 0);
    EXPECT_EQ(allreduce_cost(m, topo(8, 4), 0).seconds, 0);
  }
}

TEST(CollectiveCost, MoreRanksThanANodeHoldsIsClamped) {
  // ranks_per_node larger than the world: one node.
  EXPECT_DOUBLE_EQ(allreduce_cost(SyncAlgorithm::ring, topo(4, 16), 1e6).seconds,
                   allreduce_cost(SyncAlgorithm::ring, topo(4, 4), 1e6).seconds);
}

TEST(CollectiveCost, NamesRoundTripAndUnknownNamesAreUsageErrors) {
  for (SyncAlgorithm m : kCostedAlgorithms) EXPECT_EQ(parse_algorithm(to_string(m)), m);
  EXPECT_THROW(parse_algorithm("mpi2"), UsageError);
}

}  // namespace
}  // namespace plait::plan
