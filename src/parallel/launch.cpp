#include "parallel/launch.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "fault/heartbeat.h"
#include "fault/supervisor.h"
#include "parallel/run_monitor.h"
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
  to.timeout_s = opt.timeout_s;
  return to;
}

namespace {

// A rank that makes no progress cannot be unwound (it may be stuck in a kernel or
// stopped): the report goes to stderr and beside the checkpoints, and the process
// ends with exit code 1 so that the supervisor, or the user, restarts the run.
[[noreturn]] void end_stalled_run(const TrainOptions& opt, const std::string& report) {
  std::fprintf(stderr, "\nplait: %s; ending the run\n", report.c_str());
  if (!opt.checkpoint_dir.empty()) {
    if (std::FILE* f = std::fopen((opt.checkpoint_dir + "/heartbeat/stalled.txt").c_str(), "w")) {
      std::fprintf(f, "%s\n", report.c_str());
      std::fclose(f);
    }
  }
  std::fflush(nullptr);
  std::_Exit(fault::record_exit_code(1));  // under plait launch's recovery flags: for it
}

// The last heartbeat files of this process's ranks say that they ended ("done" or
// "failed"), so that `plait status` never shows the ranks of an ended run alive.
void publish_ended(const std::string& dir, const fault::Heartbeats& beats, const char* phase) {
  if (dir.empty()) return;
  for (fault::Beat b : beats.snapshot()) {
    b.finished = true;
    if (b.phase != "dropped") b.phase = phase;  // a backup worker its peers dropped
    b.activity.clear();
    fault::write_beat_file(dir, b);
  }
}

int64_t tokens_per_step(const TrainOptions& opt) {
  return static_cast<int64_t>(opt.batch) * opt.model.ctx;
}

}  // namespace

TrainSummary launch_threads(const TrainOptions& opt, const RankRun& run) {
  set_blas_threads(opt.effective_blas_threads());
  fault::Heartbeats beats(opt.workers + opt.servers);
  fault::Monitor monitor(tokens_per_step(opt));
  const BeatSource live = [&beats] { return beats.snapshot(); };
  // before loading the data: a port in use is refused at once
  const auto server = start_metrics_server(opt, monitor, live);
  const RunData data(opt);
  RunOutput out(opt);
  out.set_monitor(&monitor);
  if (!opt.log_path.empty()) out.set_ranks(live);
  TrainSummary summary;
  if (!opt.checkpoint_dir.empty())
    std::filesystem::create_directories(opt.checkpoint_dir + "/heartbeat");
  auto publish = [&] {  // for `plait status` and a supervisor's /metrics
    if (opt.checkpoint_dir.empty()) return;
    for (const fault::Beat& b : beats.snapshot()) fault::write_beat_file(opt.checkpoint_dir, b);
    publish_scalars(opt, monitor);
  };
  std::optional<fault::Watchdog> watchdog;
  watchdog.emplace(live, opt.heartbeat_timeout_s,
                   [&](const std::string& report) { end_stalled_run(opt, report); }, publish);
  try {
    comm::run_threads(threads_options(opt), [&](comm::Comm& c) {
      fault::Heartbeats::Scope scope(beats, c.rank(), c.activity_source());
      TrainSummary s = run(c, opt, &data, out);
      if (c.rank() == 0) summary = std::move(s);
    });
  } catch (const std::exception& e) {
    fault::record_failure(opt.checkpoint_dir, e.what());  // for the supervisor's report
    watchdog.reset();
    publish_ended(opt.checkpoint_dir, beats, "failed");
    out.event({{"event", "failure"}, {"step", monitor.scalars().step}, {"error", e.what()}});
    throw;
  }
  watchdog.reset();
  publish();
  publish_ended(opt.checkpoint_dir, beats, "done");
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
  if (!local.speeds.empty() && static_cast<int>(local.speeds.size()) != local.workers)
    throw UsageError("--speeds gives " + std::to_string(local.speeds.size()) + " speeds but there are " +
                     std::to_string(local.workers) + " workers (mpirun's ranks minus --servers " +
                     std::to_string(local.servers) + ")");
  if (local.backup_workers >= local.workers)
    throw UsageError("--backup-workers " + std::to_string(local.backup_workers) +
                     " must be below the " + std::to_string(local.workers) + " workers");
}

// Data parallelism or a mesh on every rank of the job.
void fit_workers(TrainOptions& local, int world) {
  local.workers = world;
  if (local.backup_workers >= world)
    throw UsageError("--backup-workers " + std::to_string(local.backup_workers) +
                     " must be below the " + std::to_string(world) + " ranks mpirun started");
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
  local.check_slowdowns(local.workers);
  if (c.rank() != 0) {
    local.progress = false;
    local.log_path.clear();
  }
  if (!local.trace_path.empty()) local.trace_path = obs::rank_trace_path(opt.trace_path, c.rank());
  return local;
}

namespace {

// Under MPI every rank publishes a file beside the checkpoints; rank 0 watches them all
// (files older than its watchdog are a previous run's and are left out).
// Rank 0 keeps what it read in `cache` (the metrics log and /metrics read it there).
std::unique_ptr<fault::Watchdog> mpi_watchdog(const TrainOptions& opt, int rank, fault::Heartbeats& beats,
                                              BeatCache& cache, const fault::Monitor& monitor) {
  std::filesystem::create_directories(opt.checkpoint_dir + "/heartbeat");
  const auto started = std::chrono::steady_clock::now();
  auto source = [&opt, &cache, rank, started]() -> std::vector<fault::Beat> {
    if (rank != 0) return {};
    const double up =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::vector<fault::Beat> all = fault::read_beat_files(opt.checkpoint_dir);
    std::erase_if(all, [&](const fault::Beat& b) {
      return b.beat_age > up || fault::rank_dropped(b.rank);  // a previous run's; dropped
    });
    cache.set(all);
    return all;
  };
  auto publish = [&opt, &beats, &monitor, rank] {
    for (const fault::Beat& b : beats.snapshot()) fault::write_beat_file(opt.checkpoint_dir, b);
    if (rank == 0) publish_scalars(opt, monitor);
  };
  // At once, not after the first poll: a rank may die (or be stopped) sooner, and a
  // peer judges it by its file (backup workers, a supervisor's hang watch), which must
  // then exist and be this run's, not a previous run's (restarts share the directory).
  publish();
  return std::make_unique<fault::Watchdog>(source, opt.heartbeat_timeout_s,
                         [&opt](const std::string& r) { end_stalled_run(opt, r); }, publish);
}

}  // namespace

TrainSummary launch_mpi(const TrainOptions& opt, const RankRun& run) {
  comm::MpiOptions mo;
  mo.ranks_per_node = opt.ranks_per_node;
  mo.timeout_s = opt.timeout_s;
  TrainSummary summary;
  comm::run_mpi(mo, [&](comm::Comm& c) {
    const TrainOptions local = rank_options(opt, c);
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    set_blas_threads(local.blas_threads > 0 ? local.blas_threads
                                            : std::max(1, cores / c.world().local_size()));
    fault::Heartbeats beats(c.size());
    fault::Monitor monitor(tokens_per_step(local));
    BeatCache cache;  // rank 0 with --checkpoint-dir: every rank's file
    const bool files = !local.checkpoint_dir.empty();
    const BeatSource ranks = [&] { return files ? cache.get() : beats.snapshot(); };
    std::unique_ptr<fault::MetricsServer> server;  // before loading: a taken port fails at once
    if (c.rank() == 0) server = start_metrics_server(local, monitor, ranks);
    std::optional<RunData> data;  // server ranks never read the corpus
    if (c.rank() < local.workers) data.emplace(local);
    RunOutput out(local);
    out.set_monitor(&monitor);
    if (!local.log_path.empty()) out.set_ranks(ranks);
    fault::Heartbeats::Scope scope(beats, c.rank(), c.activity_source());
    std::unique_ptr<fault::Watchdog> watchdog;
    if (files) watchdog = mpi_watchdog(local, c.rank(), beats, cache, monitor);
    try {
      summary = run(c, local, data ? &*data : nullptr, out);
    } catch (const std::exception& e) {
      fault::record_failure(local.checkpoint_dir, e.what());  // for the supervisor's report
      watchdog.reset();
      publish_ended(local.checkpoint_dir, beats, "failed");
      out.event({{"event", "failure"}, {"step", monitor.scalars().step}, {"rank", c.rank()},
                 {"error", e.what()}});
      throw;
    }
    watchdog.reset();
    if (c.rank() == 0) publish_scalars(local, monitor);
    publish_ended(local.checkpoint_dir, beats, "done");
    out.end(summary);  // ranks other than 0: only their trace file
  });
  return summary;
}

}  // namespace plait
