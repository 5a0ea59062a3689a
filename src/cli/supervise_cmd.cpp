// Automatic recovery from the command line (docs/FAULT_TOLERANCE.md, "Recovery"):
//   plait train ... --max-restarts K       the threads backend: this process supervises
//                                          `plait train` as its child (fault/supervisor.h)
//   plait launch --np N [--hostfile H] [--max-restarts K] -- train ...
//                                          supervises `mpirun -np N plait train ...
//                                          --backend mpi`, restarting the whole job
// Restarts add `--resume auto`, so they continue from the newest committed checkpoint.
#include "cli/supervise_cmd.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <numeric>
#include <memory>

#include "cli/registry.h"
#include "fault/memory_snapshot.h"
#include "fault/metrics_server.h"
#include "fault/supervisor.h"
#include "parallel/run_monitor.h"
#include "util/error.h"

namespace plait::cli {
namespace {

std::string self_exe() {
  std::error_code ec;
  const auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw RuntimeError("supervisor: cannot find this program (/proc/self/exe)");
  return p.string();
}

// This process's arguments after the program name.
std::vector<std::string> own_args() {
  std::ifstream f("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> out;
  for (std::string a; std::getline(f, a, '\0');) out.push_back(a);
  if (!out.empty()) out.erase(out.begin());
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& flag) {
  return std::any_of(v.begin(), v.end(), [&](const std::string& a) {
    return a == flag || a.rfind(flag + "=", 0) == 0;
  });
}

std::string value_of(const std::vector<std::string>& v, const std::string& flag) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == flag && i + 1 < v.size()) return v[i + 1];
    if (v[i].rfind(flag + "=", 0) == 0) return v[i].substr(flag.size() + 1);
  }
  return "";
}

std::vector<std::string> with_resume(std::vector<std::string> argv) {
  if (!has(argv, "--resume")) {
    argv.push_back("--resume");
    argv.push_back("auto");
  }
  return argv;
}

// argv with `flag` set to `value` (replaced where given, else appended).
std::vector<std::string> with_value(std::vector<std::string> argv, const std::string& flag,
                                    const std::string& value) {
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == flag && i + 1 < argv.size()) {
      argv[i + 1] = value;
      return argv;
    }
    if (argv[i].rfind(flag + "=", 0) == 0) {
      argv[i] = flag + "=" + value;
      return argv;
    }
  }
  argv.push_back(flag);
  argv.push_back(value);
  return argv;
}

int int_value_of(const std::vector<std::string>& v, const std::string& flag, int otherwise) {
  const std::string s = value_of(v, flag);
  return s.empty() ? otherwise : std::atoi(s.c_str());
}

// Elastic shrink's argv on n workers: `count_flag` (--workers, or mpirun's -np) is n,
// and an explicit --dp is n / (tp x pp).
std::function<std::vector<std::string>(const std::vector<std::string>&, int)> resizer(
    std::string count_flag, int unit) {
  return [count_flag, unit](const std::vector<std::string>& argv, int n) {
    std::vector<std::string> out = with_value(argv, count_flag, std::to_string(n));
    if (has(out, "--dp")) out = with_value(out, "--dp", std::to_string(n / unit));
    return out;
  };
}

// --min-workers M against a job of `workers` in steps of `unit`; UsageError if it
// cannot be honoured.
void check_min_workers(int min, int workers, int unit, int restarts, const std::string& count) {
  if (min == 0) return;
  if (restarts == 0)
    throw UsageError("--min-workers needs --max-restarts K (it shrinks the job on a restart)");
  if (min < 1 || min > workers)
    throw UsageError("--min-workers " + std::to_string(min) + " must be between 1 and " + count +
                     " " + std::to_string(workers));
  if (min % unit != 0)
    throw UsageError("--min-workers " + std::to_string(min) + " must be a multiple of " +
                     std::to_string(unit) + " (a shrink drops whole replicas of tp x pp ranks" +
                     (unit > 1 ? ", and whole --ranks-per-node nodes" : "") + ")");
}

// --metrics-port under a supervisor: the supervisor serves /metrics and /healthz for
// the whole supervision, from the run directory's files (the children's heartbeat
// files and RUN/heartbeat/metrics.json, supervisor.json, latest), so the port and the
// restarts counter survive every restart; the children, told by kMetricsServedEnv,
// only write the files. Null when the port is not asked for.
std::unique_ptr<fault::MetricsServer> supervisor_metrics(const std::string& dir, int port,
                                                         const std::string& host, double limit_s) {
  if (port < 0) return nullptr;
  auto view = [dir] {
    fault::MonitorView v;
    v.run = fault::read_scalars_file(dir);
    v.beats = fault::read_beat_files(dir);
    fault::add_run_dir(dir, v);
    return v;
  };
  auto server = std::make_unique<fault::MetricsServer>(host, port, std::move(view), limit_s);
  setenv(kMetricsServedEnv, "1", 1);
  std::fprintf(stderr, "metrics: http://%s:%d/metrics and /healthz (served by the supervisor)\n",
               host.c_str(), server->port());
  return server;
}

// --backup-workers B in the train command: a rank that dies is dropped, not fatal. OpenMPI
// 4 has no ULFM, but with these two flags mpirun leaves the other ranks running when one
// ends (by a signal or with a non-zero code), and the survivors never talk to it again
// (parallel/backup_sync.h); mpirun then exits 0 whatever its ranks did, so rank 0
// leaves its exit code in the returned directory (PLAIT_EXIT_DIR) for the supervisor.
// "" without backup workers.
std::string backup_recovery(const std::vector<std::string>& train, const std::string& dir,
                            std::vector<std::string>& argv) {
  const std::string b = value_of(train, "--backup-workers");
  if (b.empty() || b.find_first_not_of('0') == std::string::npos) return "";
  const std::string exit_dir = dir + "/heartbeat";
  std::filesystem::create_directories(exit_dir);
  setenv("PLAIT_EXIT_DIR", exit_dir.c_str(), 1);
  argv.insert(argv.begin() + 3, {"--enable-recovery", "--mca", "orte_abort_on_non_zero_status",
                                 "0", "-x", "PLAIT_EXIT_DIR"});
  return exit_dir;
}

void check_restarts(int k, const char* flag) {
  if (k < 0 || k > 1000)
    throw UsageError(std::string(flag) + " must be between 0 and 1000, got " + std::to_string(k));
}

}  // namespace

namespace {

// --min-workers on `train --max-restarts` (threads): a shrink drops one replica
// (tp x pp ranks), or one emulated node when that is larger.
void add_elastic_train(const TrainOptions& opt, fault::SuperviseOptions& so) {
  int unit = opt.tp * opt.pp;
  if (opt.ranks_per_node > 0) unit = std::lcm(unit, opt.ranks_per_node);
  if (!has(so.argv, "--workers"))
    throw UsageError("--min-workers needs --workers N (the count the run may shrink from)");
  check_min_workers(opt.min_workers, opt.workers, unit, opt.max_restarts, "--workers");
  if (opt.servers > 0)
    throw UsageError("--min-workers with --servers: the parameter-server run does not shrink");
  if (!opt.speeds.empty() && opt.min_workers < opt.workers)
    throw UsageError("--min-workers with --speeds: a shrunk run would have fewer workers "
                     "than speeds");
  for (const balance::Slowdown& s : opt.slowdowns)
    if (s.rank >= opt.min_workers)
      throw UsageError("--slowdown names rank " + std::to_string(s.rank) + ", which a run "
                       "shrunk to --min-workers " + std::to_string(opt.min_workers) + " lacks");
  so.workers = opt.workers;
  so.min_workers = opt.min_workers;
  so.unit = unit;
  so.resize = resizer("--workers", unit);
  so.grow_every = has(so.argv, "--stop-after") ? 0 : opt.checkpoint_every;
}

}  // namespace

void adopt_memory_snapshot(TrainOptions& opt) {
  if (opt.memory_snapshot_every == 0) return;
  const char* env = std::getenv(fault::kMemorySnapshotEnv);
  if (env == nullptr || *env == '\0')
    throw UsageError("--memory-snapshot-every needs a supervisor that outlives the training "
                     "process to keep the snapshot: add --max-restarts K (MPI: plait launch)");
  opt.memory_snapshot_dir = env;
}

bool supervising(const TrainOptions& opt) {
  return opt.max_restarts > 0 && std::getenv("PLAIT_SUPERVISED") == nullptr;
}

int supervise_train(const TrainOptions& opt) {
  check_restarts(opt.max_restarts, "--max-restarts");
  if (opt.backend == comm::Backend::mpi)
    throw UsageError("--max-restarts with --backend mpi: supervise the job with "
                     "`plait launch --np N --max-restarts K -- train ...` instead");
  if (opt.checkpoint_dir.empty())
    throw UsageError("--max-restarts needs --checkpoint-dir (restarts continue from its "
                     "newest checkpoint)");
  fault::SuperviseOptions so;
  so.argv = own_args();
  so.argv.insert(so.argv.begin(), self_exe());
  so.restart_argv = with_resume(so.argv);
  so.max_restarts = opt.max_restarts;
  so.run_dir = opt.checkpoint_dir;
  so.memory_snapshots = opt.memory_snapshot_every > 0;
  so.log_path = opt.log_path;
  // a child stopped whole (its watchdog too) is found from its heartbeat files
  so.hang_timeout_s = opt.heartbeat_timeout_s;
  if (opt.min_workers > 0) add_elastic_train(opt, so);
  const auto metrics = supervisor_metrics(opt.checkpoint_dir, opt.metrics_port, opt.metrics_host,
                                          opt.heartbeat_timeout_s);
  return fault::supervise(so);
}

namespace {

struct LaunchOptions {
  int np = 0;
  std::string hostfile, mpirun = "mpirun";
  int max_restarts = 3;
  int min_np = 0;  // elastic shrink down to this many ranks (0: never)
  std::vector<std::string> train;
};

int run_launch(const LaunchOptions& lo) {
  if (lo.np < 1) throw UsageError("launch: -np must be at least 1, got " + std::to_string(lo.np));
  check_restarts(lo.max_restarts, "--max-restarts");
  if (lo.train.empty() || lo.train.front() != "train")
    throw UsageError("launch: give the training command after '--': plait launch --np N -- train ...");
  const std::string dir = value_of(lo.train, "--checkpoint-dir");
  if (dir.empty())
    throw UsageError("launch: the train command needs --checkpoint-dir (restarts continue from "
                     "its newest checkpoint)");
  std::filesystem::create_directories(dir);
  std::vector<std::string> argv = {lo.mpirun, "-np", std::to_string(lo.np)};
  if (!lo.hostfile.empty()) argv.insert(argv.end(), {"--hostfile", lo.hostfile});
  argv.push_back(self_exe());
  argv.insert(argv.end(), lo.train.begin(), lo.train.end());
  if (!has(lo.train, "--backend")) argv.insert(argv.end(), {"--backend", "mpi"});
  const std::string every = value_of(lo.train, "--memory-snapshot-every");
  const bool snapshots = !every.empty() && every != "0";
  if (snapshots) argv.insert(argv.begin() + 3, {"-x", fault::kMemorySnapshotEnv});
  const std::string port = value_of(lo.train, "--metrics-port");
  if (!port.empty() && port.find_first_not_of("0123456789") != std::string::npos)
    throw UsageError("--metrics-port: '" + port + "' is not a port number");
  std::string host = value_of(lo.train, "--metrics-host");
  const auto metrics = supervisor_metrics(dir, port.empty() ? -1 : std::atoi(port.c_str()),
                                          host.empty() ? "127.0.0.1" : host,
                                          std::atof(value_of(lo.train, "--heartbeat-timeout").c_str()));
  if (metrics) argv.insert(argv.begin() + 3, {"-x", kMetricsServedEnv});
  const std::string exit_dir = backup_recovery(lo.train, dir, argv);
  fault::SuperviseOptions so;
  so.exit_dir = exit_dir;
  so.argv = argv;
  so.restart_argv = with_resume(argv);
  so.max_restarts = lo.max_restarts;
  so.run_dir = dir;
  so.what = "mpirun job";
  so.memory_snapshots = snapshots;
  so.log_path = value_of(lo.train, "--log");
  // a job whose every rank stopped (rank 0's watchdog too) is found from the ranks'
  // heartbeat files, as under train --max-restarts (0: the watchdog's auto limit)
  so.hang_timeout_s = std::atof(value_of(lo.train, "--heartbeat-timeout").c_str());
  so.child_is_launcher = true;
  if (lo.min_np > 0) {
    const int unit = int_value_of(lo.train, "--tp", 1) * int_value_of(lo.train, "--pp", 1);
    check_min_workers(lo.min_np, lo.np, unit, lo.max_restarts, "--np");
    so.workers = lo.np;
    so.min_workers = lo.min_np;
    so.unit = unit;
    so.resize = resizer("-np", unit);
    so.grow_every = has(lo.train, "--stop-after") ? 0 : int_value_of(lo.train, "--checkpoint-every", 0);
  }
  return fault::supervise(so);
}

void add_launch(Context& ctx) {
  auto lo = std::make_shared<LaunchOptions>();
  auto* cmd = ctx.root.add_subcommand(
      "launch", "run `mpirun ... plait train` under a supervisor that restarts it from the "
                "newest checkpoint when a rank dies or hangs");
  cmd->add_option("-n,--np", lo->np, "MPI ranks (mpirun -np)")->required();
  cmd->add_option("--hostfile", lo->hostfile, "mpirun's hostfile")->check(CLI::ExistingFile);
  cmd->add_option("--mpirun", lo->mpirun, "the mpirun program")->capture_default_str();
  cmd->add_option("--max-restarts", lo->max_restarts, "restarts before giving up")
      ->capture_default_str();
  cmd->add_option("--min-workers,--min-np", lo->min_np,
                  "when the job fails twice in a row with no new checkpoint, restart it on "
                  "fewer ranks (one replica less), down to M; the same global batch");
  cmd->add_option("train", lo->train, "-- train ... (the training command)")->expected(-1);
  cmd->callback([&ctx, lo] { ctx.rc = run_launch(*lo); });
}

Registrar reg("launch", add_launch);

}  // namespace
}  // namespace plait::cli
