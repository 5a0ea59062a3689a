// Direct allreduce: every rank exchanges shards with every other rank directly.
//
// The buffer is cut into p shards; rank i owns shard i.
//   reduce-scatter (step 0): rank i sends shard j to rank j, for every j != i, and adds
//     the shard i of every other rank into its own, taking them in a fixed order;
//   allgather (step 1): rank i sends its summed shard i to every other rank, and copies
//     shard j from rank j.
//
// Schedule: the p-1 exchanges of a phase are ordered so that at every position k each
// rank sends to a different rank, which takes exactly that message k-th: a permutation
// per position, so no receiver ever has two messages queued while another idles.
//   flat (one node, or nodes of different sizes): at position k rank i sends to i+k
//     and takes from i-k;
//   nodes (q nodes of k ranks, rank (node n, local l)): first the inter-node
//     positions (j = 1..q-1, m = 0..k-1): send to (n+j, l+m), take from (n-j, l-m);
//     then the intra-node ones (m = 1..k-1): send to (n, l+m), take from (n, l-m).
// The order of taking is also the order of the sums (own shard first, then the
// others in schedule order), which fixes the result's bits.
//
// Cost: two phases of p-1 messages of n/p bytes each, serialised on a rank's link:
// 2(p-1)/p · n bytes per rank like the ring, but in two rounds, p-1 messages in flight.
#include "comm/collectives.h"
#include "comm/primitives.h"

namespace plait::comm {
namespace {

struct Exchange {
  int to, from;  // group ranks
};

// The flat schedule: position k sends to i+k, takes from i-k.
std::vector<Exchange> flat_schedule(int p, int me) {
  std::vector<Exchange> s;
  for (int k = 1; k < p; ++k) s.push_back({(me + k) % p, (me - k + p) % p});
  return s;
}

// The node schedule: inter-node positions first, then intra-node (see above).
std::vector<Exchange> node_schedule(const Group& g) {
  const int q = g.node_count(), k = g.local_size();
  const int n = g.node(g.rank()), l = g.local_rank();
  auto at = [&](int node, int local) { return g.node_members((node + q) % q)[(local + k) % k]; };
  std::vector<Exchange> s;
  for (int j = 1; j < q; ++j)
    for (int m = 0; m < k; ++m) s.push_back({at(n + j, l + m), at(n - j, l - m)});
  for (int m = 1; m < k; ++m) s.push_back({at(n, l + m), at(n, l - m)});
  return s;
}

class AllreduceDirect final : public Allreduce {
 public:
  explicit AllreduceDirect(Group& g)
      : group_(g),
        schedule_(g.node_count() > 1 && g.uniform_nodes() ? node_schedule(g)
                                                          : flat_schedule(g.size(), g.rank())) {}

  void run(Bytes data, DType dtype) override {
    Primitives p(group_, "allreduce(direct)", dtype);
    if (p.size() == 1 || data.empty()) return;
    const Chunks shards(data, dtype_size(dtype), p.size());
    reduce_scatter(p, shards);
    allgather(p, shards);
  }

 private:
  void reduce_scatter(Primitives& p, const Chunks& shards) const {
    for (const Exchange& e : schedule_) p.send(e.to, 0, shards[e.to]);
    for (const Exchange& e : schedule_) p.recv_reduce(e.from, 0, shards[p.rank()]);
    p.wait();
  }

  void allgather(Primitives& p, const Chunks& shards) const {
    for (const Exchange& e : schedule_) p.send(e.to, 1, shards[p.rank()]);
    for (const Exchange& e : schedule_) p.recv_copy(e.from, 1, shards[e.from]);
    p.wait();
  }

  Group group_;
  std::vector<Exchange> schedule_;  // one exchange per other rank, in schedule order
};

}  // namespace

std::unique_ptr<Allreduce> make_allreduce_direct(Group& group) {
  return std::make_unique<AllreduceDirect>(group);
}

}  // namespace plait::comm
