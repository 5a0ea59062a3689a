// `plait simulate`: the predicted step time and memory of a `plait train` run on this
// machine. Takes train's flags (its defaults too); flags that only matter to training
// itself (--data, --lr, checkpoints...) are accepted and ignored, so a train command
// line can be simulated by changing one word.
#include <iostream>
#include <memory>
#include <optional>

#include "cli/calibrate.h"
#include "cli/registry.h"
#include "fault/weights.h"
#include "parallel/train_options.h"
#include "plan/simulate.h"

namespace plait::cli {
namespace {

struct SimulateFlags {
  // Model and batch: `plait train`'s defaults (cli/train_cmd.cpp).
  int layers = 4, dim = 128, heads = 4, ctx = 128, batch = 16;
  long long steps = 600;
  int blas_threads = 0, ranks_per_node = 0;
  plan::RunFlags run;
  std::string schedule = "1f1b", sync;  // parsed into run's enums
  std::string link_intra, link_inter, profile;
  std::string init_from;       // train's --init-from: the model is the weights'
  bool ctx_given = false;
  bool json = false;
};

plan::MachineProfile load_or_measure(const std::string& file) {
  if (!file.empty()) return plan::MachineProfile::load(file);
  plan::MachineProfile p = measure_machine(0.1);
  p.source = "measured now (save one: plait bench calibrate --out FILE)";
  return p;
}

int run_simulate(const SimulateFlags& f, const std::vector<std::string>& ignored) {
  plan::ModelSpec m;
  m.name = "run";
  m.layers = f.layers, m.dim = f.dim, m.heads = f.heads, m.ctx = f.ctx, m.batch = f.batch;
  m.vocab = 256;
  if (!f.init_from.empty()) {  // as train does: the weights' model, --ctx may be shorter
    const GPTConfig c = WeightSource::open(f.init_from).config();
    m.layers = c.layers, m.dim = c.dim, m.heads = c.heads, m.vocab = c.vocab;
    if (!f.ctx_given) m.ctx = c.ctx;
  }
  m.validate("plait simulate");
  std::optional<LinkSpec> intra, inter;
  if (!f.link_intra.empty()) intra = parse_link(f.link_intra);
  if (!f.link_inter.empty()) inter = parse_link(f.link_inter);
  // bad flags fail before the machine is measured
  plan::local_run_from_flags(m, f.run, f.blas_threads, 1, f.ranks_per_node, intra, inter);
  const plan::MachineProfile profile = load_or_measure(f.profile);
  const plan::LocalRun run = plan::local_run_from_flags(m, f.run, f.blas_threads, profile.cores,
                                                        f.ranks_per_node, intra, inter);
  plan::Simulation s = plan::simulate(run, profile, f.steps);
  if (f.run.sync == SyncAlgorithm::mpi) s.notes.push_back("--sync mpi is costed as ring allreduce");
  if (!ignored.empty()) {
    std::string list;
    for (const auto& a : ignored) list += (list.empty() ? "" : " ") + a;
    s.notes.push_back("ignored (training only): " + list);
  }
  if (f.json)
    std::cout << plan::simulate_json(s).dump(2) << "\n";
  else
    std::cout << plan::simulate_text(s);
  return 0;
}

void add_flags(CLI::App* cmd, SimulateFlags& f) {
  cmd->add_option("--layers", f.layers, "transformer blocks")->capture_default_str();
  cmd->add_option("--dim", f.dim, "channels")->capture_default_str();
  cmd->add_option("--heads", f.heads, "attention heads")->capture_default_str();
  cmd->add_option("--ctx", f.ctx, "context length")->capture_default_str();
  cmd->add_option("--batch", f.batch, "global batch: sequences per step")->capture_default_str();
  cmd->add_option("--micro-batch", f.run.micro_batch, "sequences per forward/backward");
  cmd->add_option("--micro-batches", f.run.micro_batches, "micro-batches per step (pipeline M)");
  cmd->add_option("--steps", f.steps, "steps of the run")->capture_default_str();
  cmd->add_option("--workers", f.run.workers, "in-process workers (default dp x tp x pp)");
  cmd->add_option("--blas-threads", f.blas_threads, "BLAS threads per worker (0: cores/workers)")
      ->capture_default_str();
  cmd->add_option("--dp", f.run.dp, "data-parallel ranks");
  cmd->add_option("--tp", f.run.tp, "tensor-parallel ranks");
  cmd->add_option("--pp", f.run.pp, "pipeline stages");
  cmd->add_option("--stages", f.run.stages, "blocks per pipeline stage, e.g. 3,1")
      ->delimiter(',');
  cmd->add_option("--schedule", f.schedule, "gpipe or 1f1b")->capture_default_str();
  cmd->add_option("--sync", f.sync,
                  "ps, direct, ring, hierarchical, halving-doubling, tree or mpi (default: "
                  "train's choice by size)");
  cmd->add_option("--servers", f.run.servers, "dedicated parameter-server ranks")
      ->capture_default_str();
  cmd->add_option("--ranks-per-node", f.ranks_per_node, "workers per emulated node");
  cmd->add_option("--link-intra", f.link_intra, "emulated link inside a node, e.g. 5us:10GB/s");
  cmd->add_option("--link-inter", f.link_inter, "emulated link between nodes, e.g. 50us:1GB/s");
  cmd->add_option("--profile", f.profile, "machine profile from plait bench calibrate --out");
  cmd->add_flag("--json", f.json, "machine-readable output");
}

Registrar reg("simulate", [](Context& ctx) {
  auto f = std::make_shared<SimulateFlags>();
  CLI::App* cmd = ctx.root.add_subcommand(
      "simulate", "predict the step time and memory of a plait train run on this machine");
  add_flags(cmd, *f);
  cmd->allow_extras();
  cmd->add_option("--init-from", f->init_from, "train's weights: the model (and vocabulary) is theirs");
  cmd->callback([&ctx, f, cmd] {
    f->ctx_given = cmd->get_option("--ctx")->count() > 0;
    f->run.schedule = parse_schedule_flag(f->schedule);
    f->run.sync = parse_sync_flag(f->sync);
    ctx.rc = run_simulate(*f, cmd->remaining());
  });
});

}  // namespace
}  // namespace plait::cli
