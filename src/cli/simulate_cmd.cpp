// `plait simulate`: the predicted step time and memory of a `plait train` run on this
// machine. It takes exactly train's flags (cli/train_flags.h: the same names, the
// same defaults, the same default layout and the same checks), plus --profile and
// --json, so a train command line is simulated by changing one word. Flags that do
// not change the step (--data, --lr, checkpoints...) are accepted and listed as not
// modelled; an unknown flag is an error, as in every command.
#include <iostream>
#include <memory>
#include <optional>

#include "cli/calibrate.h"
#include "cli/model_spec_of.h"
#include "cli/registry.h"
#include "cli/train_flags.h"
#include "plan/simulate.h"

namespace plait::cli {
namespace {

struct SimulateFlags {
  TrainOptions opt = train_defaults();
  std::string profile;
  bool json = false;
};

// Train's flags that the step-time model does not read.
constexpr const char* kNotModelled[] = {
    "--data", "--val-data", "--tokenizer", "--dtype", "--lr", "--warmup", "--weight-decay", "--clip", "--seed", "--eval-every",
    "--eval-windows", "--checkpoint-dir", "--checkpoint-every", "--keep-checkpoints",
    "--resume", "--stop-after", "--log", "--trace", "--no-progress", "--bucket-mb",
    "--no-overlap", "--speeds", "--repartition-threshold", "--repartition-after", "--ps-mode", "--staleness", "--backup-workers", "--gemm", "--precision"};

plan::MachineProfile load_or_measure(const std::string& file) {
  if (!file.empty()) return plan::MachineProfile::load(file);
  plan::MachineProfile p = measure_machine(0.1);
  p.source = "measured now (save one: plait bench calibrate --out FILE)";
  return p;
}

int run_simulate(const SimulateFlags& f, const CLI::App& cmd) {
  const TrainOptions& o = f.opt;
  const plan::ModelSpec m = model_spec_of(o.model, o.batch, "run", "plait simulate");
  std::optional<LinkSpec> intra, inter;
  if (!o.intra_link.empty()) intra = parse_link(o.intra_link);
  if (!o.inter_link.empty()) inter = parse_link(o.inter_link);
  // bad flags fail before the machine is measured
  plan::local_run_from_flags(m, run_flags_of(o), o.blas_threads, 1, o.ranks_per_node, intra, inter);
  const plan::MachineProfile profile = load_or_measure(f.profile);
  const plan::LocalRun run = plan::local_run_from_flags(
      m, run_flags_of(o), o.blas_threads, profile.cores, o.ranks_per_node, intra, inter);
  plan::Simulation s = plan::simulate(run, profile, o.steps);
  if (o.sync == SyncAlgorithm::mpi) s.notes.push_back("--sync mpi is costed as ring allreduce");
  std::string list;
  for (const char* flag : kNotModelled)
    if (given(cmd, flag) && !(o.zero >= 2 && std::string(flag) == "--bucket-mb"))  // the pools
      list += (list.empty() ? "" : " ") + std::string(flag);
  if (!list.empty()) s.notes.push_back("not modelled (training only): " + list);
  if (f.json)
    std::cout << plan::simulate_json(s).dump(2) << "\n";
  else
    std::cout << plan::simulate_text(s);
  return 0;
}

Registrar reg("simulate", [](Context& ctx) {
  auto f = std::make_shared<SimulateFlags>();
  CLI::App* cmd = ctx.root.add_subcommand(
      "simulate", "predict the step time and memory of a plait train run on this machine");
  add_train_flags(cmd, f->opt);
  cmd->add_option("--profile", f->profile, "machine profile from plait bench calibrate --out");
  cmd->add_flag("--json", f->json, "machine-readable output");
  cmd->callback([&ctx, f, cmd] {
    adopt_init_config(*cmd, f->opt);  // as train does: the model is the weights'
    const std::string layout = resolve_layout(*cmd, f->opt);
    f->opt.validate();
    resolve_auto_stages(f->opt);  // --stages auto: the split train would choose
    if (!layout.empty()) std::cerr << layout << "\n";
    ctx.rc = run_simulate(*f, *cmd);
  });
});

}  // namespace
}  // namespace plait::cli
