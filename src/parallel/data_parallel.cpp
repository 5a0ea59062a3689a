#include "parallel/data_parallel.h"

#include <algorithm>
#include <span>
#include <string>
#include <vector>

#include "balance/split.h"
#include "fault/hash.h"
#include "parallel/dp_balance.h"
#include "parallel/grad_buckets.h"
#include "util/error.h"

namespace plait {

SyncChoice choose_sync(const TrainOptions& opt, int n, int nodes) {
  return choose_sync(opt.sync, n, nodes);
}

SyncChoice choose_sync(const TrainOptions& opt) {
  const int nodes = opt.ranks_per_node > 0 ? opt.workers / opt.ranks_per_node : 1;
  return choose_sync(opt, opt.workers, nodes);
}

std::vector<int64_t> dp_shares(const TrainOptions& opt) {
  return opt.speeds.empty() ? balance::split_equal(opt.batch, opt.workers)
                            : balance::split_proportional(opt.batch, opt.speeds);
}

size_t bucket_floats(const TrainOptions& opt) {
  const double floats = opt.bucket_mb * 1024.0 * 1024.0 / sizeof(float);
  return static_cast<size_t>(std::max(1.0, floats));
}

namespace {

// The invariant data parallelism rests on: after the same steps every replica holds
// bit-identical parameters. Checked once at the end (a hash per rank, allgathered);
// RuntimeError naming the first rank that differs from rank 0.
void check_replicas_equal(comm::Group& world, const GPT& model) {
  const uint64_t mine = xxh64(std::as_bytes(std::span<const float>(model.params)));
  std::vector<uint64_t> all(world.size());
  comm::allgather_bytes(world, std::as_bytes(std::span<const uint64_t>(&mine, 1)),
                        std::as_writable_bytes(std::span<uint64_t>(all)));
  for (int r = 1; r < world.size(); ++r)
    if (all[r] != all[0])
      throw RuntimeError("data parallel: the replica of rank " + std::to_string(r) +
                         " differs from rank 0's after training (non-deterministic "
                         "reduction?)");
}

}  // namespace

TrainSummary run_dp_rank(comm::Comm& c, const TrainOptions& opt, const RunData& data,
                         RunOutput& out) {
  const int rank = c.rank();
  const bool mpi = c.world().backend() == comm::Backend::mpi;
  const SyncChoice choice =
      mpi ? choose_sync(opt, c.size(), c.world().node_count()) : choose_sync(opt);
  if (rank == 0)
    out.message(mpi ? choice.why + " (MPI, " + std::to_string(c.size()) + " ranks)" : choice.why);
  const auto shares = dp_shares(opt);
  const auto starts = balance::split_starts(shares);
  Replica r(opt, data, rank, starts[rank], shares[rank]);
  r.trace = &out.trace();
  if (rank == 0) r.out = &out;
  else if (out.trace().enabled()) out.trace().name_rank(rank);
  comm::Group world = c.world();
  // Every rank measures; under --balance auto every rank re-splits identically.
  DpBalance balance(world, r, shares, balance_config(opt));
  r.start();
  if (opt.resume) balance.restore(r.resumed_extra);
  r.balance = &balance;
  // dup is collective: every rank makes the gradient group in the same order.
  BucketReducer sync(world.dup("dp-grads"), world, choice.algorithm, r.model.table().total(),
                     bucket_floats(opt), r.trace, rank);
  r.sync = &sync;
  TrainSummary s = run_replica(r);
  check_replicas_equal(world, r.model);
  return s;
}

}  // namespace plait
