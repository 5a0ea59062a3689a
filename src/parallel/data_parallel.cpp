#include "parallel/data_parallel.h"

#include <algorithm>
#include <cstdio>

#include "balance/split.h"
#include "comm/comm.h"
#include "parallel/grad_buckets.h"

namespace plait {

SyncChoice choose_sync(const TrainOptions& opt) {
  if (!opt.sync.empty())
    return {comm::parse_algorithm(opt.sync), "sync " + opt.sync + " (--sync)"};
  const int n = opt.workers;
  const int per_node = opt.ranks_per_node > 0 ? opt.ranks_per_node : n;
  if (per_node < n && per_node > 1)
    return {comm::Algorithm::hierarchical,
            "sync hierarchical: " + std::to_string(n / per_node) + " nodes of " +
                std::to_string(per_node) + " workers, so reduce inside nodes first and "
                "cross the slow links once per node"};
  if (n == 2)
    return {comm::Algorithm::direct,
            "sync direct: 2 workers, one exchange each way moves no more than a ring"};
  return {comm::Algorithm::ring,
          "sync ring: " + std::to_string(n) + " workers, bandwidth-optimal (each sends "
          "2(N-1)/N of the gradients) whatever N"};
}

namespace {

size_t bucket_floats(const TrainOptions& opt) {
  const double floats = opt.bucket_mb * 1024.0 * 1024.0 / sizeof(float);
  return static_cast<size_t>(std::max(1.0, floats));
}

// One rank's whole run. Rank 0 returns the summary that counts.
TrainSummary run_rank(comm::Comm& c, const TrainOptions& opt, const RunData& data,
                      RunOutput& out, comm::Algorithm algorithm) {
  const int rank = c.rank();
  const auto shares = balance::split_equal(opt.batch, c.size());
  const auto starts = balance::split_starts(shares);
  Replica r(opt, data, rank, starts[rank], shares[rank]);
  r.trace = &out.trace();
  if (rank == 0) r.out = &out;
  else if (out.trace().enabled()) out.trace().name_rank(rank);
  r.start();
  comm::Group world = c.world();
  // dup is collective: every rank makes the gradient group in the same order.
  BucketReducer sync(world.dup("dp-grads"), world, algorithm, r.model.table().total(),
                     bucket_floats(opt), r.trace, rank);
  r.sync = &sync;
  return run_loop(r, end_step(opt, r.step));
}

}  // namespace

TrainSummary train_data_parallel(const TrainOptions& opt, const RunData& data, RunOutput& out) {
  const SyncChoice choice = choose_sync(opt);
  out.message(choice.why);
  comm::ThreadsOptions to;
  to.world = opt.workers;
  to.ranks_per_node = opt.ranks_per_node;
  // Rank 0 evaluates and checkpoints while the others wait in the next allreduce.
  to.timeout_s = 10 * comm::kDefaultTimeoutSeconds;
  TrainSummary summary;
  comm::run_threads(to, [&](comm::Comm& c) {
    TrainSummary s = run_rank(c, opt, data, out, choice.algorithm);
    if (c.rank() == 0) summary = s;
  });
  return summary;
}

}  // namespace plait
