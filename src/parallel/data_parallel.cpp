#include "parallel/data_parallel.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <cstdio>
#include <vector>

#include "balance/split.h"
#include "comm/comm.h"
#include "fault/hash.h"
#include "util/error.h"
#include "util/link.h"
#include "parallel/grad_buckets.h"
#include "parallel/mesh_trainer.h"
#include "parallel/train_bench.h"
#include "tensor/blas.h"
#include "util/rng.h"

namespace plait {

SyncChoice choose_sync(const TrainOptions& opt, int n, int nodes) {
  return choose_sync(opt.sync.empty() ? std::nullopt : std::optional(parse_algorithm(opt.sync)),
                     n, nodes);
}

SyncChoice choose_sync(const TrainOptions& opt) {
  const int nodes = opt.ranks_per_node > 0 ? opt.workers / opt.ranks_per_node : 1;
  return choose_sync(opt, opt.workers, nodes);
}

comm::ThreadsOptions threads_options(const TrainOptions& opt) {
  comm::ThreadsOptions to;
  to.world = opt.workers;
  to.ranks_per_node = opt.ranks_per_node;
  if (!opt.intra_link.empty()) to.intra = parse_link(opt.intra_link);
  if (!opt.inter_link.empty()) to.inter = parse_link(opt.inter_link);
  // Rank 0 evaluates and checkpoints while the others wait in the next allreduce.
  to.timeout_s = 10 * comm::kDefaultTimeoutSeconds;
  return to;
}

namespace {

// Sequences per worker: equal, or proportional to --speeds.
std::vector<int64_t> shares_of(const TrainOptions& opt) {
  return opt.speeds.empty() ? balance::split_equal(opt.batch, opt.workers)
                            : balance::split_proportional(opt.batch, opt.speeds);
}

size_t bucket_floats(const TrainOptions& opt) {
  const double floats = opt.bucket_mb * 1024.0 * 1024.0 / sizeof(float);
  return static_cast<size_t>(std::max(1.0, floats));
}

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

// One rank's whole run. Rank 0 returns the summary that counts.
TrainSummary run_rank(comm::Comm& c, const TrainOptions& opt, const RunData& data,
                      RunOutput& out, comm::Algorithm algorithm) {
  const int rank = c.rank();
  const auto shares = shares_of(opt);
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
  TrainSummary s = run_loop(r, end_step(opt, r.step));
  check_replicas_equal(world, r.model);
  return s;
}

}  // namespace

TrainSummary train_data_parallel(const TrainOptions& opt, const RunData& data, RunOutput& out) {
  const SyncChoice choice = choose_sync(opt);
  out.message(choice.why);
  TrainSummary summary;
  comm::run_threads(threads_options(opt), [&](comm::Comm& c) {
    TrainSummary s = run_rank(c, opt, data, out, choice.algorithm);
    if (c.rank() == 0) summary = s;
  });
  return summary;
}

namespace {

// This rank's options under MPI: the world size is mpirun's; only rank 0 shows
// progress and writes the metrics log; every rank writes its own trace file.
TrainOptions rank_options(const TrainOptions& opt, comm::Comm& c) {
  TrainOptions local = opt;
  local.workers = c.size();
  if (!local.speeds.empty() && static_cast<int>(local.speeds.size()) != c.size())
    throw UsageError("--speeds gives " + std::to_string(local.speeds.size()) +
                     " speeds but mpirun started " + std::to_string(c.size()) + " ranks");
  if (c.rank() != 0) {
    local.progress = false;
    local.log_path.clear();
  }
  if (!local.trace_path.empty()) local.trace_path = obs::rank_trace_path(opt.trace_path, c.rank());
  return local;
}

}  // namespace

TrainSummary train_mpi(const TrainOptions& opt) {
  comm::MpiOptions mo;
  mo.ranks_per_node = opt.ranks_per_node;
  mo.timeout_s = 10 * comm::kDefaultTimeoutSeconds;
  TrainSummary summary;
  comm::run_mpi(mo, [&](comm::Comm& c) {
    const TrainOptions local = rank_options(opt, c);
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    set_blas_threads(local.blas_threads > 0 ? local.blas_threads
                                            : std::max(1, cores / c.world().local_size()));
    const RunData data(local);
    RunOutput out(local);
    if (local.model_parallel()) {
      const int mesh = local.effective_dp() * local.tp * local.pp;
      if (mesh != c.size())
        throw UsageError("layout: --dp " + std::to_string(local.effective_dp()) + " x --tp " +
                         std::to_string(local.tp) + " x --pp " + std::to_string(local.pp) +
                         " = " + std::to_string(mesh) + " ranks, but mpirun started " +
                         std::to_string(c.size()));
      local.validate_layout();  // now that the world size is known
      summary = run_mesh_rank(c, local, data, out);
    } else {
      const SyncChoice choice = choose_sync(local, c.size(), c.world().node_count());
      if (c.rank() == 0)
        out.message(choice.why + " (MPI, " + std::to_string(c.size()) + " ranks)");
      summary = run_rank(c, local, data, out, choice.algorithm);
    }
    out.end(summary);  // ranks other than 0: only their trace file
  });
  return summary;
}

data::Corpus random_corpus(const TrainOptions& opt) {
  const size_t n = std::max<size_t>(1 << 16, 40 * static_cast<size_t>(opt.model.ctx + 1));
  std::vector<uint8_t> bytes(n);
  Rng rng(opt.seed);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng.next_u64() % opt.model.vocab);
  return data::Corpus::from_bytes(std::move(bytes), opt.model.ctx, "random bytes");
}

namespace {

struct RankTiming {
  std::vector<double> step_s;
  double wait_s = 0;
};

// Times `steps` steps of one replica after `warmup` untimed ones.
RankTiming time_steps(Replica& r, const BucketReducer* sync, int warmup, int steps) {
  RankTiming t;
  double norm = 0;
  for (int i = 0; i < warmup; ++i) r.train_step(norm);
  const double wait0 = sync ? sync->wait_s() : 0;
  for (int i = 0; i < steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    r.train_step(norm);
    t.step_s.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  t.wait_s = sync ? sync->wait_s() - wait0 : 0;
  return t;
}

}  // namespace

DataParallelBench bench_data_parallel(const TrainOptions& o, int warmup, int steps) {
  TrainOptions opt = o;
  opt.resume = false;
  opt.validate();
  const RunData data(opt, random_corpus(opt));
  DataParallelBench res;
  std::vector<RankTiming> timings(opt.workers);
  if (opt.workers == 1) {
    Replica r(opt, data, 0, 0, opt.batch);
    r.start();
    timings[0] = time_steps(r, nullptr, warmup, steps);
  } else {
    const SyncChoice choice = choose_sync(opt);
    res.sync = comm::to_string(choice.algorithm);
    comm::run_threads(threads_options(opt), [&](comm::Comm& c) {
      const int rank = c.rank();
      const auto shares = shares_of(opt);
      const auto starts = balance::split_starts(shares);
      Replica r(opt, data, rank, starts[rank], shares[rank]);
      r.start();
      comm::Group world = c.world();
      BucketReducer sync(world.dup("dp-grads"), world, choice.algorithm,
                         r.model.table().total(), bucket_floats(opt), nullptr, rank);
      r.sync = &sync;
      timings[rank] = time_steps(r, &sync, warmup, steps);  // each rank its own slot
      if (rank == 0) res.buckets = sync.buckets();
    });
  }
  res.median_step_s = median(timings[0].step_s);
  res.tokens_per_s = static_cast<double>(opt.batch) * opt.model.ctx / res.median_step_s;
  double share = 0;
  for (const auto& t : timings) {
    double total = 0;
    for (double s : t.step_s) total += s;
    share += total > 0 ? t.wait_s / total : 0;
  }
  res.comm_wait_share = share / opt.workers;
  return res;
}

}  // namespace plait
