// Direct allreduce: every rank exchanges shards with every other rank directly.
//
// The buffer is cut into p shards; rank i owns shard i.
//   reduce-scatter (step 0): rank i sends shard j to rank j, for every j != i, and adds
//     the shard i of every other rank into its own, taking them in the fixed order
//     i-1, i-2, ..., i+1 (x[i] + x[i-1] + ... + x[i+1]);
//   allgather (step 1): rank i sends its summed shard i to every other rank, and copies
//     shard j from rank j.
// Sends go out in the order i+1, i+2, ... and receives are taken from i-1, i-2, ..., so
// at the k-th message every rank sends to the rank k ahead, which takes it k-th: no
// two messages queue for one receiver.
//
// Cost: two phases of p-1 messages of n/p bytes each, serialised on a rank's link:
// 2(p-1)/p · n bytes per rank like the ring, but all in two rounds, with p-1 messages
// in flight per rank.
#include "comm/allreduce_algorithms.h"
#include "comm/primitives.h"

namespace plait::comm {
namespace {

class AllreduceDirect final : public Allreduce {
 public:
  explicit AllreduceDirect(Group& g) : group_(g) {}

  void run(Bytes data, DType dtype) override {
    Primitives p(group_, "allreduce(direct)", dtype);
    const int n = p.size(), me = p.rank();
    if (n == 1 || data.empty()) return;
    const Chunks shards(data, dtype_size(dtype), n);
    reduce_scatter(p, shards, n, me);
    allgather(p, shards, n, me);
  }

 private:
  static void reduce_scatter(Primitives& p, const Chunks& shards, int n, int me) {
    for (int k = 1; k < n; ++k) p.send((me + k) % n, 0, shards[(me + k) % n]);
    for (int k = 1; k < n; ++k) p.recv_reduce((me - k + n) % n, 0, shards[me]);
    p.wait();
  }

  static void allgather(Primitives& p, const Chunks& shards, int n, int me) {
    for (int k = 1; k < n; ++k) p.send((me + k) % n, 1, shards[me]);
    for (int k = 1; k < n; ++k) p.recv_copy((me - k + n) % n, 1, shards[(me - k + n) % n]);
    p.wait();
  }

  Group group_;
};

}  // namespace

std::unique_ptr<Allreduce> make_allreduce_direct(Group& group) {
  return std::make_unique<AllreduceDirect>(group);
}

}  // namespace plait::comm
