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
#include <cstdlib>
#include <fstream>
#include <memory>

#include "cli/registry.h"
#include "fault/supervisor.h"
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

void check_restarts(int k, const char* flag) {
  if (k < 0 || k > 1000)
    throw UsageError(std::string(flag) + " must be between 0 and 1000, got " + std::to_string(k));
}

}  // namespace

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
  return fault::supervise(so);
}

namespace {

struct LaunchOptions {
  int np = 0;
  std::string hostfile, mpirun = "mpirun";
  int max_restarts = 3;
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
  fault::SuperviseOptions so;
  so.argv = argv;
  so.restart_argv = with_resume(argv);
  so.max_restarts = lo.max_restarts;
  so.run_dir = dir;
  so.what = "mpirun job";
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
  cmd->add_option("train", lo->train, "-- train ... (the training command)")->expected(-1);
  cmd->callback([&ctx, lo] { ctx.rc = run_launch(*lo); });
}

Registrar reg("launch", add_launch);

}  // namespace
}  // namespace plait::cli
