// Reduce to a root, direct (collectives.h): the root posts one receive per other rank,
// in the ring reduce-scatter's order for its shard (root+1, ..., root-1), the first a
// copy and the rest adding into a scratch buffer (the primitives complete receives in
// posting order, so the sums happen in that order), then adds the scratch into its own
// buffer: ((x[r+1] + x[r+2]) + ...) + x[r], the ring's bits.
#include <vector>

#include "comm/collectives.h"
#include "comm/primitives.h"
#include "comm/reduce.h"
#include "util/error.h"

namespace plait::comm {

void reduce(Group& group, Bytes data, DType dtype, int root) {
  Primitives p(group, "reduce", dtype);
  const int n = p.size();
  if (root < 0 || root >= n)
    throw UsageError("reduce on group '" + group.name() + "': root " + std::to_string(root) +
                     " is not a rank of the group");
  if (n == 1 || data.empty()) return;
  if (p.rank() != root) {
    p.send(root, 0, data);
    p.wait();
    return;
  }
  if (n == 2) {  // x[r+1] + x[r] == x[r] + x[r+1] bit for bit: add straight into data
    p.recv_reduce(1 - root, 0, data);
    p.wait();
    return;
  }
  // the scratch is kept per thread (the ZeRO bucket reducer calls this per bucket, on
  // its communication thread): no allocation and no page faults per call
  thread_local std::vector<std::byte> scratch;
  if (scratch.size() < data.size()) scratch.resize(data.size());
  const Bytes acc(scratch.data(), data.size());
  for (int k = 1; k < n; ++k) {
    const int from = (root + k) % n;
    if (k == 1) p.recv_copy(from, 0, acc);
    else p.recv_reduce(from, 0, acc);
  }
  p.wait();
  // acc + own == own + acc element by element (addition commutes bit for bit)
  reduce_sum(dtype, data.data(), acc.data(), data.size());
}

void reduce(Group& group, std::span<float> data, int root) {
  reduce(group, std::as_writable_bytes(data), DType::f32, root);
}

}  // namespace plait::comm
