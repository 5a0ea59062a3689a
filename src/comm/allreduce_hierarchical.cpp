// Hierarchical allreduce: reduce-scatter inside each node, allreduce of each shard
// across the nodes, allgather inside each node.
//
// The group's p ranks sit on q nodes of k ranks each (k·q = p); a rank's local index
// l is its position among its node's members.
//   1. intra reduce-scatter: a ring over the node's k ranks cuts the buffer into k
//      chunks; rank l ends with chunk l summed over its node (steps 0 .. k-2);
//   2. inter allreduce: the q ranks with local index l, one per node, run a ring
//      allreduce of chunk l (cut into q pieces): reduce-scatter (steps k .. k+q-2)
//      then allgather (steps k+q .. k+2q-2). All k such rings run at once, each on
//      its own ranks' links;
//   3. intra allgather: the node's ring shares the k finished chunks (steps k+2q ..).
// Sum order: within the node by its ring, then across nodes by theirs: fixed.
//
// Cost: 2(k-1) steps of n/k on the fast intra-node links, and only 2(q-1) steps of
// n/(kq) on the slow inter-node links (against 2(p-1) slow steps for a flat ring).
// With one node, or one rank per node, it is the ring allreduce.
#include <numeric>
#include <set>

#include "comm/collectives.h"
#include "comm/ring.h"
#include "util/error.h"

namespace plait::comm {
namespace {

class AllreduceHierarchical final : public Allreduce {
 public:
  explicit AllreduceHierarchical(Group& g) : group_(g) {
    if (!g.uniform_nodes()) throw UsageError(uneven_nodes_message(g));
    const int node = g.node(g.rank()), local = g.local_rank();
    local_ = make_ring(g.node_members(node), g.rank());
    std::vector<int> across;  // local index `local` of every node, by node
    for (int n = 0; n < g.node_count(); ++n) across.push_back(g.node_members(n)[local]);
    inter_ = make_ring(std::move(across), g.rank());
  }

  void run(Bytes data, DType dtype) override {
    Primitives p(group_, "allreduce(hierarchical)", dtype);
    if (group_.size() == 1 || data.empty()) return;
    const int k = local_.n(), q = inter_.n();
    const Chunks chunks(data, dtype_size(dtype), k);
    ring_reduce_scatter(p, local_, chunks, 0);
    const Chunks pieces(chunks[local_.me], dtype_size(dtype), q);
    ring_allreduce(p, inter_, pieces, k);
    ring_allgather(p, local_, chunks, k + 2 * q);
  }

 private:
  static std::string uneven_nodes_message(const Group& g) {
    std::set<int> sizes;
    for (int n = 0; n < g.node_count(); ++n)
      sizes.insert(static_cast<int>(g.node_members(n).size()));
    std::string s = "hierarchical allreduce needs the same number of ranks on every node; group '" +
                    g.name() + "' has nodes of";
    for (int size : sizes) {
      s += ' ';
      s += std::to_string(size);
    }
    return s + " ranks (use ring, or a ranks-per-node that divides the group)";
  }

  Group group_;
  Ring local_;  // this node's ranks
  Ring inter_;  // the ranks with this rank's local index, one per node
};

}  // namespace

std::unique_ptr<Allreduce> make_allreduce_hierarchical(Group& group) {
  return std::make_unique<AllreduceHierarchical>(group);
}

}  // namespace plait::comm
