#include "parallel/data_parallel.h"

#include <algorithm>
#include <memory>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "balance/split.h"
#include "fault/hash.h"
#include "parallel/backup_sync.h"
#include "parallel/dp_balance.h"
#include "parallel/grad_buckets.h"
#include "parallel/zero.h"
#include "util/error.h"
#include "util/pages.h"

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

// The log line of a ZeRO run: the shard and the optimizer bytes it saves.
std::string zero_line(const Zero& z, size_t total, int ranks) {
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "ZeRO-%d: AdamW moments%s sharded over %d ranks (%s): optimizer %.2f MiB "
                "per rank instead of %.2f MiB",
                z.stage(), z.stage() == 3 ? ", gradients and parameters" : z.stage() == 2 ? " and gradients" : "", ranks,
                z.stage() == 3 ? "gradient buckets reduced to their owners during the backward "
                                 "pass, each unit's parameters gathered before use"
                               : "gradient buckets reduced to their owners during the backward "
                                 "pass, allgather of the parameters",
                z.optimizer_bytes() / 1048576.0, 2.0 * total * sizeof(float) / 1048576.0);
  return buf;
}

// --backup-workers B (backup_sync.h): no balancing (its exchange of timings every step
// would make everyone wait for the straggler the backups exist to drop) and no world
// collective after the start, so a rank may fall behind or leave. Under threads a rank
// w > 0 whose run fails leaves the run (rank 0 continues without it); under MPI the
// failure ends the process, and so mpirun's job, as without backups.
TrainSummary run_backup_rank(Replica& r, comm::Group& world, RunOutput& out, bool mpi) {
  const TrainOptions& opt = r.opt;
  r.start();
  BackupSync sync(world, opt.backup_workers, r.step, r.seqs, r.model.table().total(), r.step,
                  r.out, opt.progress);
  r.sync = &sync;
  if (r.rank == 0)
    out.message("backup workers: each step takes the first " +
                std::to_string(world.size() - opt.backup_workers) + " of " +
                std::to_string(world.size()) + " workers' gradients (rank 0 always), the mean "
                "over their sequences (--backup-workers " + std::to_string(opt.backup_workers) + ")");
  TrainSummary s;
  try {
    s = run_replica(r);
  } catch (const UsageError&) {
    throw;
  } catch (const std::exception& e) {
    if (r.rank == 0 || mpi) throw;
    sync.leave(e.what());
    return {};  // this rank is out; the others go on
  }
  sync.end(xxh64(std::as_bytes(std::span<const float>(r.model.params))));
  return s;
}

}  // namespace

TrainSummary run_dp_rank(comm::Comm& c, const TrainOptions& opt, const RunData& data,
                         RunOutput& out) {
  const int rank = c.rank();
  const bool mpi = c.world().backend() == comm::Backend::mpi;
  const SyncChoice choice =
      mpi ? choose_sync(opt, c.size(), c.world().node_count()) : choose_sync(opt);
  if (rank == 0 && opt.zero == 0 && opt.backup_workers == 0)
    out.message(mpi ? choice.why + " (MPI, " + std::to_string(c.size()) + " ranks)" : choice.why);
  const auto shares = dp_shares(opt);
  const auto starts = balance::split_starts(shares);
  Replica r(opt, data, rank, starts[rank], shares[rank]);
  r.trace = &out.trace();
  if (rank == 0) r.out = &out;
  else if (out.trace().enabled()) out.trace().name_rank(rank);
  comm::Group world = c.world();
  if (opt.backup_workers > 0) return run_backup_rank(r, world, out, mpi);
  r.barrier = [&world] { comm::barrier(world); };  // --on-nonfinite rollback
  // Every rank measures; under --balance auto every rank re-splits identically.
  DpBalance balance(world, replica_target(r), shares, balance_config(opt));
  r.start();
  if (opt.resume) balance.restore(r.resumed_extra);
  r.balance = &balance;
  TrainSummary s;
  const size_t total = r.model.table().total();
  if (opt.zero > 0) {
    // dup is collective: every rank makes the groups in the same order.
    Zero zero(opt.zero, world.dup("zero"), total, r.adam, {}, {}, /*bucketed=*/true);
    if (rank == 0) out.message(zero_line(zero, total, c.size()));
    r.zero = &zero;
    // every stage reduces the buckets to their owners during the backward pass
    auto sync = std::make_unique<BucketReducer>(
        world.dup("zero-grads"), owned_buckets(total, bucket_floats(opt), c.size()),
        /*release=*/opt.zero >= 2, r.trace, rank);
    if (opt.zero >= 2) zero.release_unowned(r.model.grads);
    r.sync = sync.get();
    if (opt.zero == 3) {
      zero.bind_params(r.model.params);
      zero.shard_params();
      r.model.set_param_gate(&zero);
    }
    s = run_replica(r);
    if (opt.zero == 3) zero.shard_params();  // the last checkpoint gathered them
    s.parameter_bytes = pages::resident_bytes(r.model.params);
    s.parameter_peak_bytes = zero.parameter_peak_bytes();
    if (opt.zero == 3) {
      r.model.set_param_gate(nullptr);
      zero.gather_params();  // every replica whole again, for the check below
    }
    s.optimizer_bytes = zero.optimizer_bytes();
    if (opt.zero >= 2) s.gradient_peak_bytes = sync->residency().peak;
    s.gradient_bytes = pages::resident_bytes(r.model.grads);
  } else {
    BucketReducer sync(world.dup("dp-grads"), world, choice.algorithm, total, bucket_floats(opt),
                       r.trace, rank);
    r.sync = &sync;
    s = run_replica(r);
  }
  check_replicas_equal(world, r.model);
  return s;
}

}  // namespace plait
