#include "parallel/data_parallel.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "balance/split.h"
#include "fault/hash.h"
#include "parallel/backup_sync.h"
#include "parallel/dp_balance.h"
#include "parallel/dp_steal.h"
#include "parallel/group_min.h"
#include "parallel/grad_buckets.h"
#include "parallel/peer_snapshot.h"
#include "parallel/shard_snapshot.h"
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

// Whether every rank runs as many micro-batches each step, whatever the shares do
// (--balance auto may move sequences): ZeRO-2/3 may then reduce each micro-batch.
bool equal_micro_batches(const TrainOptions& opt, const std::vector<int64_t>& shares) {
  if (opt.micro_batch <= 0 || opt.balance_mode() == BalanceMode::automatic) return false;
  const auto count = [&](int64_t share) { return (share + opt.micro_batch - 1) / opt.micro_batch; };
  for (int64_t s : shares)
    if (count(s) != count(shares[0])) return false;
  return count(shares[0]) > 1;
}

// What the ZeRO page pools are cut to (util/page_pool.h), in floats: the end of the
// tied wte (written first and last by the backward pass), the largest block (the most
// written between two of its ready() calls), and the units ZeRO-3's passes gather, in
// forward order: the embeddings (wte, wpe), each block, the head (ln_f and wte).
struct PoolUnits {
  size_t wte = 0, block = 0;
  Zero::Units units;
};

PoolUnits pool_units(const ParamTable& t) {
  PoolUnits u;
  ArenaRange wte, wpe, lnf{SIZE_MAX, 0};
  std::vector<ArenaRange> blocks;
  const std::string h = "transformer.h.";
  const auto widen = [](ArenaRange& r, const ParamSpec& p) {
    r = {std::min(r.first, p.offset), std::max(r.second, p.offset + p.size)};
  };
  for (const ParamSpec& p : t.specs()) {
    if (p.name == "transformer.wte.weight") wte = {p.offset, p.offset + p.size};
    else if (p.name == "transformer.wpe.weight") wpe = {p.offset, p.offset + p.size};
    else if (p.name.rfind("transformer.ln_f.", 0) == 0) widen(lnf, p);
    else if (p.name.rfind(h, 0) == 0) {
      const size_t i = std::stoul(p.name.substr(h.size()));
      if (blocks.size() <= i) blocks.resize(i + 1, {SIZE_MAX, 0});
      widen(blocks[i], p);
    }
  }
  u.wte = wte.second;
  // the gate joins adjacent ranges (model/gpt.cpp): wte and wpe are one window
  if (wte.second == wpe.first) u.units.push_back({{wte.first, wpe.second}});
  else u.units.push_back({wte, wpe});
  for (const ArenaRange& b : blocks) {
    u.block = std::max(u.block, b.second - b.first);
    u.units.push_back({b});
  }
  u.units.push_back({lnf, wte});
  return u;
}

// --zero 1|2|3 (zero.h): every stage reduces the gradient buckets to their owners
// during the backward pass; stages 2 and 3 release the others' pages, and with several
// micro-batches (as many on every rank) reduce each micro-batch's.
TrainSummary run_zero_rank(Replica& r, comm::Group& world, const std::vector<int64_t>& shares,
                           RunOutput& out) {
  const TrainOptions& opt = r.opt;
  const size_t total = r.model.table().total();
  // dup is collective: every rank makes the groups in the same order.
  Zero zero(opt.zero, world.dup("zero"), total, r.adam, {}, {}, /*bucketed=*/true);
  if (r.rank == 0) out.message(zero_line(zero, total, world.size()));
  r.zero = &zero;
  // stages 2, 3: the other ranks' buckets borrow pooled pages (grad_buckets.h): the
  // tied wte's, the next block's and two buckets' more (in reduction) at most
  const PoolUnits u = pool_units(r.model.table());
  const BucketPooling pooling{true, u.wte, u.block};
  BucketReducer sync(world.dup("zero-grads"), owned_buckets(total, bucket_floats(opt), world.size()),
                     /*release=*/opt.zero >= 2, r.trace, r.rank, pooling);
  zero.count_gradient_pool([&sync] { return sync.pool_bytes(); });
  if (opt.zero >= 2) {
    zero.release_unowned(r.model.grads);
    sync.reduce_each_micro_batch(equal_micro_batches(opt, shares));
  }
  r.sync = &sync;
  if (opt.zero == 3) {
    // the units' gathered floats in pooled pages: two units live at once (one computing,
    // the next prefetched)
    zero.bind_params(r.model.params, u.units);
    zero.shard_params();
    r.model.set_param_gate(&zero);
  }
  TrainSummary s = run_replica(r);
  if (opt.zero == 3) zero.shard_params();  // the last checkpoint gathered them
  s.parameter_bytes = pages::resident_bytes(r.model.params);
  s.parameter_peak_bytes = zero.parameter_peak_bytes();
  if (opt.zero == 3) {
    r.model.set_param_gate(nullptr);
    zero.gather_params();  // every replica whole again, for the caller's check
  }
  s.optimizer_bytes = zero.optimizer_bytes();
  if (opt.zero >= 2) {
    s.gradient_peak_bytes = sync.residency().peak;
    s.gradient_between_bytes = sync.residency().between;
  }
  s.gradient_bytes = pages::resident_bytes(r.model.grads);
  s.gradient_pool_bytes = sync.pool_bytes();
  s.parameter_pool_bytes = zero.pool_bytes();
  r.sync = nullptr;
  r.zero = nullptr;
  return s;
}

// --backup-workers B (backup_sync.h): no balancing (its exchange of timings every step
// would make everyone wait for the straggler the backups exist to drop) and no world
// collective after the start, so a rank may fall behind or leave. A rank w > 0 whose
// run fails leaves the run (rank 0 continues without it); under MPI its process then
// ends with exit code 1, which ends mpirun's job unless mpirun runs with OpenMPI's
// recovery flags (backup_sync.h), and ranks watch each other's heartbeat files.
TrainSummary run_backup_rank(Replica& r, comm::Group& world, RunOutput& out, bool mpi) {
  const TrainOptions& opt = r.opt;
  start_replica(r, world);
  BackupSync sync(world, opt.backup_workers, r.step, r.seqs, r.model.table().total(), r.step,
                  r.out, opt.progress);
  if (mpi && !opt.checkpoint_dir.empty()) sync.watch_heartbeats(opt.checkpoint_dir);
  r.sync = &sync;
  if (r.rank == 0)
    out.message("backup workers: each step takes the first " +
                std::to_string(world.size() - opt.backup_workers) + " of " +
                std::to_string(world.size()) + " workers' gradients (rank 0 always), the mean "
                "over their sequences (--backup-workers " + std::to_string(opt.backup_workers) + ")");
  if (r.rank == 0 && mpi && !mpirun_keeps_survivors())
    out.message("backup workers: mpirun runs without --enable-recovery --mca "
                "orte_abort_on_non_zero_status 0, so a rank that dies ends the job "
                "(plait launch adds them)");
  TrainSummary s;
  try {
    s = run_replica(r);
  } catch (const UsageError&) {
    throw;
  } catch (const Dropped& e) {  // stopped, dropped, then resumed: rank 0 goes on without it
    say_dropped(e, r.step);
    return {};
  } catch (const std::exception& e) {
    if (r.rank == 0) throw;
    sync.leave(e.what());
    if (mpi) throw;  // the process ends; the others go on
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
  // ZeRO: only rank 0 gathers the whole moments, so only it can snapshot them
  if (opt.zero == 0) r.snapshot_peer = snapshot_peer(world);
  // ZeRO: every rank keeps its shard's piece, and a peer a copy (shard_snapshot.h)
  std::unique_ptr<ShardSnapshots> pieces;
  if (opt.zero > 0 && opt.memory_snapshot_every > 0 && !opt.memory_snapshot_dir.empty())
    pieces = std::make_unique<ShardSnapshots>(world, world, r.model.table().total(),
                                              piece_layout(opt, world.size()), opt.memory_snapshot_dir);
  r.pieces = pieces.get();
  if (opt.backup_workers > 0) return run_backup_rank(r, world, out, mpi);
  r.barrier = [&world] { comm::barrier(world); };  // --on-nonfinite rollback
  // --balance auto: work stealing within each step (dp_steal.h; not with ZeRO, whose
  // reduce-scatter follows the whole step anyway).
  std::unique_ptr<WorkSteal> steal;
  if (opt.steal_chunk() > 0 && opt.zero == 0 && c.size() > 1) {
    comm::Group claims = world.dup("steal");  // collective: every rank, in this order
    steal = std::make_unique<WorkSteal>(claims, opt.steal_chunk(), opt.micro_batch,
                                        opt.balance_threshold);
    if (!steal->usable()) {
      steal.reset();
      if (rank == 0)
        out.message("balance: no work stealing within a step: this transport has no shared "
                    "counter (emulated links, or MPI without an RMA window); re-splitting only");
    }
    r.steal = steal.get();
    if (rank == 0 && steal)
      out.message("balance: work stealing within each step: half of every share is "
                  "claimed chunk by chunk (>= " + std::to_string(opt.steal_chunk()) +
                  " sequences) as ranks finish, while their measured speeds differ" +
                  (steal->fixed_order() ? " (PLAIT_TEST_STEAL_ORDER: a fixed assignment)" : ""));
  }
  r.min_over_ranks = [&world](int64_t v) { return min_over(world, v); };  // --on-nonfinite
  // The loss sum and the balancer's timings in one exchange per step (not with ZeRO,
  // whose update sums the loss with the gradient norm).
  std::unique_ptr<StepExchange> exchange;
  if (opt.zero == 0) exchange = std::make_unique<StepExchange>(world.dup("step-exchange"));
  r.exchange = exchange.get();
  // Every rank measures; under --balance auto every rank re-splits identically.
  DpBalance balance(world, replica_target(r), shares, balance_config(opt));
  start_replica(r, world);
  if (opt.resume) balance.restore(r.resumed_extra);
  r.balance = &balance;
  TrainSummary s;
  if (opt.zero > 0) {
    s = run_zero_rank(r, world, shares, out);
  } else {
    BucketReducer sync(world.dup("dp-grads"), world, choice.algorithm, r.model.table().total(),
                       bucket_floats(opt), r.trace, rank);
    r.sync = &sync;
    s = run_replica(r);
    r.sync = nullptr;
  }
  r.exchange = nullptr;
  check_replicas_equal(world, r.model);
  return s;
}

}  // namespace plait
