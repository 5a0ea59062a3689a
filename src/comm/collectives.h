// The collectives: allreduce by each sync method, broadcast, reduce-scatter,
// allgather, barrier. Collective over a Group: every member calls them in the same
// order with buffers of the same length. Deterministic: each algorithm fixes the order
// in which it adds the ranks' buffers, and after the sums every rank copies the same
// bytes, so the same inputs give bit-identical outputs on every run and every rank.
//
// Data-parallel use (a communication thread reducing gradient buckets):
//
//   auto sync = comm::make_allreduce(dp, {comm::parse_algorithm("ring")});  // set-up
//   ...
//   sync->run(std::span<float>(bucket));  // the hot path, once per bucket per step
//
// One algorithm per file (allreduce_<name>.cpp), each opening with its prose.
#pragma once
#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "comm/group.h"
#include "comm/transport.h"
#include "layout/sync.h"

namespace plait::comm {

// The algorithms, their names and parse_algorithm are the layout vocabulary
// (layout/sync.h), shared with the planner.
using Algorithm = SyncAlgorithm;
using plait::kAlgorithms;
using plait::parse_algorithm;
using plait::to_string;

struct AllreduceOptions {
  Algorithm algorithm = Algorithm::ring;
  int servers = 1;  // ps: parameter-server shards (clamped to the group size)
};

// One allreduce algorithm bound to a group: validation and set-up (rings, servers,
// node structure) in make_allreduce, the data movement in run().
class Allreduce {
 public:
  virtual ~Allreduce() = default;
  // Sums `data` (elements of `dtype`) over the group, in place.
  virtual void run(Bytes data, DType dtype) = 0;
  void run(std::span<float> data) { run(std::as_writable_bytes(data), DType::f32); }
  void run(std::span<double> data) { run(std::as_writable_bytes(data), DType::f64); }
};

// UsageError when the algorithm cannot run on this group (mpi without the MPI backend,
// hierarchical with nodes of different sizes).
std::unique_ptr<Allreduce> make_allreduce(Group& group, const AllreduceOptions& options = {});
void allreduce(Group& group, std::span<float> data, const AllreduceOptions& options = {});
void allreduce(Group& group, std::span<double> data, const AllreduceOptions& options = {});

// Shard i of `count` elements cut into `parts`: the first count % parts shards hold
// one element more. reduce_scatter and allgather use it.
struct Shard {
  std::size_t offset = 0, count = 0;
};
Shard shard_of(std::size_t count, int parts, int i);

// Copies `data` from group rank `root` to every rank (binomial tree).
void broadcast(Group& group, Bytes data, int root);

// Ring reduce-scatter: on return, this rank's shard (shard_of(n, size, rank)) of
// `data` holds the sum of that shard over the group; the rest of `data` is scratch.
void reduce_scatter(Group& group, Bytes data, DType dtype);
std::span<float> reduce_scatter(Group& group, std::span<float> data);

// Reduce to one rank: on return `root`'s `data` holds the sum over the group (the
// other ranks' `data` is unchanged). The root adds the ranks in the order the ring
// reduce-scatter adds shard `root`'s: root+1, root+2, ..., root (mod size), so summing
// each shard of a buffer on its owner with reduce() gives reduce_scatter's bits.
// Every non-root sends its whole buffer to the root (direct): (size-1)/size of the
// bytes per rank over a sharded buffer, as the ring, without the ring's pipelining.
void reduce(Group& group, Bytes data, DType dtype, int root);
void reduce(Group& group, std::span<float> data, int root);

// Ring allgather: on entry, each rank's shard of `data` is its own; on return every
// rank holds every shard. `elem` is the element size the shards are cut in.
void allgather(Group& group, Bytes data, std::size_t elem);
void allgather(Group& group, std::span<float> data);

// Every rank contributes `mine`; `all` (size() * mine.size() bytes) receives rank r's
// contribution at offset r * mine.size().
void allgather_bytes(Group& group, ConstBytes mine, Bytes all);

// Returns when every rank of the group has entered it (dissemination barrier).
void barrier(Group& group);

}  // namespace plait::comm
