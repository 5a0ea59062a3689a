// Ring allreduce: a ring reduce-scatter followed by a ring allgather (ring.h).
//
// The p ranks form a ring in rank order; the buffer is cut into p chunks. In the
// reduce-scatter, p-1 steps, every rank sends one chunk to its right neighbour and
// adds the chunk arriving from its left one into its own copy, so after p-1 steps
// rank i holds chunk i summed over all ranks (in the fixed order x[i+1] + ... + x[i]).
// In the allgather, p-1 more steps, the finished chunks travel once around the ring
// (p-2 on the threads backend, where the last reduce-scatter step hands each finished
// chunk back to the rank it came from: ring.h).
//
// Cost: 2(p-1) steps of n/p bytes on every link at once, i.e. 2(p-1)/p · n bytes per
// rank: bandwidth-optimal, but 2(p-1) latencies, and across nodes every step runs at
// the speed of the slowest link in the ring.
#include <numeric>

#include "comm/collectives.h"
#include "comm/ring.h"

namespace plait::comm {
namespace {

class AllreduceRing final : public Allreduce {
 public:
  explicit AllreduceRing(Group& g) : group_(g) {
    std::vector<int> ranks(g.size());
    std::iota(ranks.begin(), ranks.end(), 0);
    ring_ = make_ring(std::move(ranks), g.rank());
  }

  void run(Bytes data, DType dtype) override {
    Primitives p(group_, "allreduce(ring)", dtype);
    if (ring_.n() == 1 || data.empty()) return;
    const Chunks chunks(data, dtype_size(dtype), ring_.n());
    ring_allreduce(p, ring_, chunks, 0);
  }

 private:
  Group group_;
  Ring ring_;
};

}  // namespace

std::unique_ptr<Allreduce> make_allreduce_ring(Group& group) {
  return std::make_unique<AllreduceRing>(group);
}

}  // namespace plait::comm
