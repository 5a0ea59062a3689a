// Parameter-server allreduce, optionally sharded over K servers.
//
// The buffer is cut into K shards; shard j lives on server s_j = j·p/K (spread evenly
// over the ranks, hence over the nodes). Every rank is a worker; K of them are also
// servers.
//   push (step 0): each worker sends shard j to s_j; server s_j adds the shards of all
//     other ranks into its own copy, in the fixed order s_j+1, s_j+2, ..., s_j-1;
//   pull (step 1): server s_j sends the sum to every other rank, in the same order,
//     and each rank copies it.
// A rank visits its servers in the order they reach it (rank r is (r - s) mod p -th
// at server s), so with several servers no server waits on a shard queued behind
// others at its sender.
// K = 1 is the classic parameter server; K = p moves the same bytes as the direct
// allreduce.
//
// Cost: a server's link receives p-1 messages of n/K bytes, then sends p-1: the server
// is the bottleneck, 2(p-1)·n/K bytes through one link, against 2(p-1)/p·n for ring.
#include <algorithm>

#include "comm/collectives.h"
#include "comm/primitives.h"

namespace plait::comm {
namespace {

class AllreducePs final : public Allreduce {
 public:
  AllreducePs(Group& g, int servers) : group_(g) {
    const int p = g.size(), me = g.rank();
    const int k = std::clamp(servers, 1, p);
    for (int j = 0; j < k; ++j) server_.push_back(j * p / k);
    // Server s takes rank r's shard (r - s) mod p -th, and sends r the sum in the same
    // position: this rank visits its servers in that order, so no server waits for a
    // shard queued behind others at its sender.
    for (int j = 0; j < k; ++j) order_.push_back(j);
    std::stable_sort(order_.begin(), order_.end(), [&](int a, int b) {
      return (me - server_[a] + p) % p < (me - server_[b] + p) % p;
    });
  }

  void run(Bytes data, DType dtype) override {
    Primitives p(group_, "allreduce(ps)", dtype);
    if (p.size() == 1 || data.empty()) return;
    const Chunks shards(data, dtype_size(dtype), static_cast<int>(server_.size()));
    push(p, shards);
    pull(p, shards);
  }

 private:
  // The shard this rank serves, or -1.
  int served(int me) const {
    auto it = std::find(server_.begin(), server_.end(), me);
    return it == server_.end() ? -1 : static_cast<int>(it - server_.begin());
  }

  void push(Primitives& p, const Chunks& shards) const {
    const int n = p.size(), me = p.rank(), mine = served(me);
    for (int j : order_)
      if (j != mine) p.send(server_[j], 0, shards[j]);
    if (mine >= 0)
      for (int k = 1; k < n; ++k) p.recv_reduce((me + k) % n, 0, shards[mine]);
    p.wait();
  }

  void pull(Primitives& p, const Chunks& shards) const {
    const int n = p.size(), me = p.rank(), mine = served(me);
    if (mine >= 0)
      for (int k = 1; k < n; ++k) p.send((me + k) % n, 1, shards[mine]);
    for (int j : order_)
      if (j != mine) p.recv_copy(server_[j], 1, shards[j]);
    p.wait();
  }

  Group group_;
  std::vector<int> server_;  // server_[j]: the rank that serves shard j
  std::vector<int> order_;   // shard indices in the order this rank visits their servers
};

}  // namespace

std::unique_ptr<Allreduce> make_allreduce_ps(Group& group, int servers) {
  return std::make_unique<AllreducePs>(group, servers);
}

}  // namespace plait::comm
