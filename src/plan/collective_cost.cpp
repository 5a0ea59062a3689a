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
//                 (allgather), Rabenseifner's algorithm: log2 p steps per phase; step i
//                 moves n/2^(i+1) to the partner at distance 2^i (intra while 2^i < k).
//                 When p is not a power of two, the r = p - 2^floor(log2 p) extra ranks
//                 first fold their whole buffer into a partner and get the result back
//                 at the end: two more steps of n.
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

CollectiveCost halving_doubling(const Topology& t, double n) {
  const int p = t.world, k = ranks_per_node(t);
  int p2 = 1, levels = 0;
  while (p2 * 2 <= p) p2 *= 2, ++levels;
  const bool fold = p2 < p;
  const LinkSpec& neighbour = k > 1 ? t.intra : t.inter;  // fold partner at distance 1
  CollectiveCost c;
  if (fold) {
    c.seconds += 2 * neighbour.seconds(n);
    c.steps += 2;
    c.bytes_per_rank += 2 * n;
  }
  for (int i = 0; i < levels; ++i) {
    const int distance = 1 << i;
    const double m = n / static_cast<double>(2 << i);  // n / 2^(i+1)
    const LinkSpec& link = distance < k ? t.intra : t.inter;
    c.seconds += 2 * link.seconds(m);  // once halving, once doubling
    c.steps += 2;
    c.bytes_per_rank += 2 * m;
  }
  return c;
}

}  // namespace

SyncMethod parse_sync_method(const std::string& name) {
  for (SyncMethod m : {SyncMethod::ps, SyncMethod::direct, SyncMethod::ring,
                       SyncMethod::hierarchical, SyncMethod::tree})
    if (name == to_string(m)) return m;
  throw UsageError("unknown sync method '" + name +
                   "' (expected ps, direct, ring, hierarchical or tree)");
}

const char* to_string(SyncMethod m) {
  switch (m) {
    case SyncMethod::ps:
      return "ps";
    case SyncMethod::direct:
      return "direct";
    case SyncMethod::ring:
      return "ring";
    case SyncMethod::hierarchical:
      return "hierarchical";
    case SyncMethod::tree:
      return "tree";
  }
  return "?";
}

CollectiveCost allreduce_cost(SyncMethod method, const Topology& topo, double bytes) {
  if (topo.world <= 1 || bytes <= 0) return {};
  switch (method) {
    case SyncMethod::ps:
      return parameter_server(topo, bytes);
    case SyncMethod::direct:
      return direct(topo, bytes);
    case SyncMethod::ring:
      return ring(topo, bytes);
    case SyncMethod::hierarchical:
      return hierarchical(topo, bytes);
    case SyncMethod::tree:
      return halving_doubling(topo, bytes);
  }
  return {};
}

}  // namespace plait::plan
