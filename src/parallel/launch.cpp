#include "parallel/launch.h"

#include <algorithm>
#include <optional>
#include <string>
#include <thread>

#include "tensor/blas.h"
#include "util/error.h"
#include "util/link.h"

namespace plait {

comm::ThreadsOptions threads_options(const TrainOptions& opt) {
  comm::ThreadsOptions to;
  to.world = opt.workers + opt.servers;
  to.ranks_per_node = opt.ranks_per_node;
  if (!opt.intra_link.empty()) to.intra = parse_link(opt.intra_link);
  if (!opt.inter_link.empty()) to.inter = parse_link(opt.inter_link);
  // Rank 0 evaluates and checkpoints while the others wait in the next collective.
  to.timeout_s = 10 * comm::kDefaultTimeoutSeconds;
  return to;
}

TrainSummary launch_threads(const TrainOptions& opt, const RankRun& run) {
  set_blas_threads(opt.effective_blas_threads());
  const RunData data(opt);
  RunOutput out(opt);
  TrainSummary summary;
  comm::run_threads(threads_options(opt), [&](comm::Comm& c) {
    TrainSummary s = run(c, opt, &data, out);
    if (c.rank() == 0) summary = std::move(s);
  });
  out.end(summary);
  return summary;
}

namespace {

// The parameter-server world: mpirun -np N+K, the last K ranks serve.
void fit_servers(TrainOptions& local, int world) {
  if (world <= local.servers)
    throw UsageError("--servers " + std::to_string(local.servers) + " needs more ranks: mpirun "
                     "started " + std::to_string(world) + " (workers are the other ranks)");
  local.workers = world - local.servers;
  if (local.backup_workers >= local.workers)
    throw UsageError("--backup-workers " + std::to_string(local.backup_workers) +
                     " must be below the " + std::to_string(local.workers) + " workers");
}

// Data parallelism or a mesh on every rank of the job.
void fit_workers(TrainOptions& local, int world) {
  local.workers = world;
  if (!local.speeds.empty() && static_cast<int>(local.speeds.size()) != world)
    throw UsageError("--speeds gives " + std::to_string(local.speeds.size()) +
                     " speeds but mpirun started " + std::to_string(world) + " ranks");
  if (!local.model_parallel()) return;
  const int mesh = local.effective_dp() * local.tp * local.pp;
  if (mesh != world)
    throw UsageError("layout: --dp " + std::to_string(local.effective_dp()) + " x --tp " +
                     std::to_string(local.tp) + " x --pp " + std::to_string(local.pp) + " = " +
                     std::to_string(mesh) + " ranks, but mpirun started " +
                     std::to_string(world));
  local.validate_layout();  // now that the world size is known
}

}  // namespace

TrainOptions rank_options(const TrainOptions& opt, comm::Comm& c) {
  TrainOptions local = opt;
  if (opt.servers > 0) fit_servers(local, c.size());
  else fit_workers(local, c.size());
  if (c.rank() != 0) {
    local.progress = false;
    local.log_path.clear();
  }
  if (!local.trace_path.empty()) local.trace_path = obs::rank_trace_path(opt.trace_path, c.rank());
  return local;
}

TrainSummary launch_mpi(const TrainOptions& opt, const RankRun& run) {
  comm::MpiOptions mo;
  mo.ranks_per_node = opt.ranks_per_node;
  mo.timeout_s = 10 * comm::kDefaultTimeoutSeconds;
  TrainSummary summary;
  comm::run_mpi(mo, [&](comm::Comm& c) {
    const TrainOptions local = rank_options(opt, c);
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    set_blas_threads(local.blas_threads > 0 ? local.blas_threads
                                            : std::max(1, cores / c.world().local_size()));
    std::optional<RunData> data;  // server ranks never read the corpus
    if (c.rank() < local.workers) data.emplace(local);
    RunOutput out(local);
    summary = run(c, local, data ? &*data : nullptr, out);
    out.end(summary);  // ranks other than 0: only their trace file
  });
  return summary;
}

}  // namespace plait
