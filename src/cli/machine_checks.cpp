#include "cli/machine_checks.h"

#include <algorithm>
#include <string>

#include "fault/finite.h"
#include "parallel/footprint.h"
#include "util/error.h"
#include "util/machine.h"

namespace plait::cli {
namespace {
bool oversubscribe = false;  // --oversubscribe
}  // namespace

void add_oversubscribe_flag(CLI::App* cmd) {
  cmd->add_flag("--oversubscribe", oversubscribe,
                "allow more workers and BLAS threads than this machine's cores (emulation)");
}

void add_allow_nonfinite_flag(CLI::App* cmd) {
  cmd->add_flag_callback("--allow-nonfinite", [] { set_allow_nonfinite(true); },
                         "load checkpoints and weights holding NaN or infinity (refused otherwise)");
}

int worker_cap() {
  if (oversubscribe) return std::max(1, thread_headroom() / 2);
  return std::max(64, 4 * machine_cores());
}

void check_threads(int threads, const char* flag) {
  const int cap = worker_cap();
  if (threads > cap)
    throw UsageError(std::string(flag) + " " + std::to_string(threads) +
                     ": this machine schedules at most " + std::to_string(cap) + " (" +
                     std::to_string(machine_cores()) + " cores" +
                     (oversubscribe ? ", the process's thread limit" : "; --oversubscribe to emulate more") +
                     ")");
}

void check_train_machine(const TrainOptions& opt) {
  if (opt.backend != comm::Backend::mpi) {
    const int threads = opt.workers + opt.servers;
    check_threads(threads, opt.servers > 0 ? "--workers + --servers" : "--workers");
  }
  const int blas_cap = oversubscribe ? 64 : machine_cores();
  if (opt.blas_threads > blas_cap)
    throw UsageError("--blas-threads " + std::to_string(opt.blas_threads) + ": at most " +
                     std::to_string(blas_cap) + " (" + std::to_string(machine_cores()) + " cores" +
                     (oversubscribe ? "" : "; --oversubscribe allows 64") + ")");
  const Footprint f = train_footprint(opt);
  require_memory(f.bytes, "training (--layers " + std::to_string(opt.model.layers) + " --dim " +
                              std::to_string(opt.model.dim) + " --ctx " +
                              std::to_string(opt.model.ctx) + " --batch " +
                              std::to_string(opt.batch) + ": " + f.detail + ")");
}

}  // namespace plait::cli
