// α-β costs of the allreduce algorithms (see the header for the link model).
//
// Notation: p ranks, k ranks per node, q = ceil(p/k) nodes, n bytes per rank.
// A message of m bytes over link l costs l.seconds(m) = α_l + m / bw_l.
//
//   ring          2(p-1) steps of n/p; every step all ranks send at once, so a step
//                 costs as much as the slowest link in the ring (inter when q > 1).
//                 Bytes per rank: 2(p-1)/p · n (bandwidth-optimal).
//   direct        reduce-scatter by all-to-all (each rank sends p-1 chunks of n/p),
//                 then the mirror allgather. A rank's link serialises its sends:
//                 per phase (k-1) intra + (p-k) inter messages; (p-1)/p · n per phase.
//   ps (K shards) every rank sends shard j (n/K) to server j, which sums and sends the
//                 sum back. A server's link receives p-1 messages per phase, so it is
//                 the bottleneck: 2 · ((k-1) intra + (p-k) inter) messages of n/K.
//                 With K = p this is the direct algorithm.
//   hierarchical  ring reduce-scatter inside each node ((k-1) steps of n/k), ring
//                 allreduce of each rank's n/k shard across the q nodes (2(q-1) steps
//                 of n/(kq) on the inter link, all k ranks of a node in parallel), ring
//                 allgather inside the node ((k-1) steps of n/k).
//   tree          recursive halving (reduce-scatter) then recursive doubling
//                 (allgather), Rabenseifner's algorithm, exactly as
//                 comm/allreduce_halving_doubling.cpp runs it. Let p2 = 2^floor(log2 p)
//                 and r = p - p2. When r > 0, ranks 2j and 2j+1 (j < r) first fold: 2j
//                 sends its whole buffer to 2j+1 (one step of n), and gets the result
//                 back at the end (one more step of n). The p2 remaining ranks are
//                 virtual ranks v (real rank 2v+1 for v < r, v+r otherwise); step i of
//                 each phase moves n/2^(i+1) between v and v xor 2^i. A step runs at the
//                 slowest link any of its pairs uses: inter as soon as one pair's real
//                 ranks sit on different nodes (so folding can push a distance-1 pair
//                 across nodes). The busiest rank (an odd one below 2r) sends
//                 2(p2-1)/p2 · n plus the n of the unfold.
#include "plan/collective_cost.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace plait::plan {
namespace {

int node_count(const Topology& t) {
  const int k = std::clamp(t.ranks_per_node, 1, t.world);
  return (t.world + k - 1) / k;
}

int ranks_per_node(const Topology& t) { return std::clamp(t.ranks_per_node, 1, t.world); }

// The slower of the links a ring step uses, for an m-byte message.
double slowest_step(const Topology& t, double m) {
  const double intra = t.intra.seconds(m);
  return node_count(t) > 1 ? std::max(intra, t.inter.seconds(m)) : intra;
}

// One rank sends (or receives) one m-byte message to every other rank, serialised.
double all_peers(const Topology& t, double m) {
  const int k = ranks_per_node(t);
  return (k - 1) * t.intra.seconds(m) + (t.world - k) * t.inter.seconds(m);
}

CollectiveCost ring(const Topology& t, double n) {
  const int p = t.world;
  const double chunk = n / p;
  return {2 * (p - 1) * slowest_step(t, chunk), 2 * (p - 1), 2.0 * (p - 1) * chunk};
}

CollectiveCost direct(const Topology& t, double n) {
  const int p = t.world;
  const double chunk = n / p;
  return {2 * all_peers(t, chunk), 2 * (p - 1), 2.0 * (p - 1) * chunk};
}

CollectiveCost parameter_server(const Topology& t, double n) {
  const int p = t.world;
  const int servers = std::clamp(t.servers, 1, p);
  const double shard = n / servers;
  return {2 * all_peers(t, shard), 2 * (p - 1), 2.0 * (p - 1) * shard};
}

CollectiveCost hierarchical(const Topology& t, double n) {
  const int k = ranks_per_node(t), q = node_count(t);
  if (q == 1) return ring(t, n);
  const double shard = n / k;  // what each rank owns after the intra phase
  const double inter_chunk = shard / q;
  CollectiveCost c;
  c.seconds = 2 * (k - 1) * t.intra.seconds(shard) + 2 * (q - 1) * t.inter.seconds(inter_chunk);
  c.steps = 2 * (k - 1) + 2 * (q - 1);
  c.bytes_per_rank = 2.0 * (k - 1) * shard + 2.0 * (q - 1) * inter_chunk;
  return c;
}

// Recursive halving-doubling, step by step as the algorithm runs (see the header).
class HalvingDoublingPairs {
 public:
  explicit HalvingDoublingPairs(const Topology& t)
      : p_(t.world), k_(ranks_per_node(t)) {
    while (p2_ * 2 <= p_) p2_ *= 2, ++levels_;
    extra_ = p_ - p2_;
  }
  int levels() const { return levels_; }
  bool folds() const { return extra_ > 0; }
  // Whether some fold pair (2j, 2j+1), j < r, crosses a node boundary.
  bool fold_crosses_nodes() const {
    for (int j = 0; j < extra_; ++j)
      if (crosses(2 * j, 2 * j + 1)) return true;
    return false;
  }
  // Whether some pair (v, v xor 2^i) of virtual ranks sits on two nodes.
  bool level_crosses_nodes(int i) const {
    const int bit = 1 << i;
    for (int v = 0; v < p2_; ++v)
      if ((v & bit) == 0 && crosses(real(v), real(v | bit))) return true;
    return false;
  }

 private:
  int real(int v) const { return v < extra_ ? 2 * v + 1 : v + extra_; }
  bool crosses(int a, int b) const { return a / k_ != b / k_; }

  int p_, k_;
  int p2_ = 1, levels_ = 0, extra_ = 0;
};

CollectiveCost halving_doubling(const Topology& t, double n) {
  const HalvingDoublingPairs pairs(t);
  CollectiveCost c;
  if (pairs.folds()) {  // fold in, and unfold at the end: two steps of n
    const LinkSpec& link = pairs.fold_crosses_nodes() ? t.inter : t.intra;
    c.seconds += 2 * link.seconds(n);
    c.steps += 2;
    c.bytes_per_rank += n;  // the odd partner's unfold (the even rank sends only n)
  }
  for (int i = 0; i < pairs.levels(); ++i) {
    const double m = n / static_cast<double>(2 << i);  // n / 2^(i+1)
    const LinkSpec& link = pairs.level_crosses_nodes(i) ? t.inter : t.intra;
    c.seconds += 2 * link.seconds(m);  // once halving, once doubling
    c.steps += 2;
    c.bytes_per_rank += 2 * m;
  }
  return c;
}

}  // namespace

CollectiveCost allreduce_cost(SyncAlgorithm method, const Topology& topo, double bytes) {
  if (topo.world <= 1 || bytes <= 0) return {};
  switch (method) {
    case SyncAlgorithm::ps:
      return parameter_server(topo, bytes);
    case SyncAlgorithm::direct:
      return direct(topo, bytes);
    case SyncAlgorithm::ring:
    case SyncAlgorithm::mpi:  // OpenMPI's choice is not known here: costed as ring
      return ring(topo, bytes);
    case SyncAlgorithm::hierarchical:
      return hierarchical(topo, bytes);
    case SyncAlgorithm::halving_doubling:
      return halving_doubling(topo, bytes);
  }
  return {};
}

}  // namespace plait::plan
