// Reduce-scatter and allgather by ring (ring.h), over the group in rank order: rank i
// ends the reduce-scatter owning shard i of shard_of(n, p, i), and starts the
// allgather with it. They are the two halves of the ring allreduce, for callers that
// keep only their shard in between (a sharded optimizer).
#include <numeric>

#include "comm/collectives.h"
#include "comm/ring.h"
#include "util/error.h"

namespace plait::comm {
namespace {

Ring group_ring(const Group& g) {
  std::vector<int> ranks(g.size());
  std::iota(ranks.begin(), ranks.end(), 0);
  return make_ring(std::move(ranks), g.rank());
}

}  // namespace

void reduce_scatter(Group& group, Bytes data, DType dtype) {
  Primitives p(group, "reduce-scatter", dtype);
  if (group.size() == 1 || data.empty()) return;
  ring_reduce_scatter(p, group_ring(group), Chunks(data, dtype_size(dtype), group.size()), 0);
}

std::span<float> reduce_scatter(Group& group, std::span<float> data) {
  reduce_scatter(group, std::as_writable_bytes(data), DType::f32);
  const Shard s = shard_of(data.size(), group.size(), group.rank());
  return data.subspan(s.offset, s.count);
}

void allgather(Group& group, Bytes data, std::size_t elem) {
  Primitives p(group, "allgather", DType::f32);
  if (group.size() == 1 || data.empty()) return;
  ring_allgather(p, group_ring(group), Chunks(data, elem, group.size()), 0);
}

void allgather(Group& group, std::span<float> data) {
  allgather(group, std::as_writable_bytes(data), sizeof(float));
}

void allgather_bytes(Group& group, ConstBytes mine, Bytes all) {
  const std::size_t m = mine.size();
  if (all.size() != m * static_cast<std::size_t>(group.size()))
    throw RuntimeError("allgather_bytes: output is not size() * input bytes");
  std::copy(mine.begin(), mine.end(), all.begin() + static_cast<std::ptrdiff_t>(m * group.rank()));
  Primitives p(group, "allgather", DType::f32);
  if (group.size() == 1 || m == 0) return;
  ring_allgather(p, group_ring(group), Chunks(all, m, group.size()), 0);
}

}  // namespace plait::comm
