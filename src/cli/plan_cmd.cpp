// `plait plan`: how to train a model on a cluster, and how long it takes.
//   plait plan --model gpt3-175b --cluster a100-80gb --gpus 1024 --tokens 300B [--json]
// The decision tree first, with its answers, then the ranked search (plan/search.h),
// the recommendation (the fastest plan that fits) and the `plait train` and `mpirun`
// command lines that run it (plan/train_command.h).
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>

#include "balance/slowdown.h"
#include "cli/calibrate.h"
#include "cli/registry.h"
#include "plan/plan_report.h"
#include "plan/units.h"
#include "util/error.h"

namespace plait::cli {
namespace {

struct PlanFlags {
  std::string model, cluster, tokens, baseline, framework;
  int gpus = 0, batch = 0, top = 10;
  double memory_fraction = 0.9, large_after_days = 1;
  bool json = false, explain = false;
  std::vector<std::string> slowdowns;  // --slowdown RANK:FACTOR
};

// --slowdown RANK:FACTOR (train's syntax, without @STEP): device RANK of every layout's
// placement computes FACTOR times slower (plan/step_cost.h).
std::vector<std::pair<int, double>> parse_plan_slowdowns(const std::vector<std::string>& v,
                                                         int devices) {
  std::vector<std::pair<int, double>> out;
  for (const std::string& text : v) {
    const balance::Slowdown s = balance::parse_slowdown(text);
    if (s.from != 0)
      throw UsageError("--slowdown '" + text + "': plan has no steps; give RANK:FACTOR");
    if (s.rank >= devices)
      throw UsageError("--slowdown '" + text + "': device " + std::to_string(s.rank) +
                       " does not exist (--gpus " + std::to_string(devices) + ")");
    out.emplace_back(s.rank, s.factor);
  }
  return out;
}

// "local": this machine, measured now, one device per core (the workers `plait
// train` runs by default); else a preset or a JSON file (plan/cluster_spec.h).
plan::ClusterSpec load_cluster(const std::string& name) {
  if (name != "local") return plan::load_cluster(name);
  const plan::MachineProfile p = measure_machine(0.1);
  plan::ClusterSpec c = plan::local_cluster(p, p.cores, 1, 0, std::nullopt, std::nullopt);
  c.name = "local";
  c.device.name = "core of this machine";
  return c;
}

int run_plan(const PlanFlags& f) {
  plan::ModelSpec model = plan::load_model(f.model);
  if (f.batch > 0) model.batch = f.batch;
  const plan::ClusterSpec cluster = load_cluster(f.cluster);
  std::optional<plan::ClusterSpec> baseline;
  if (!f.baseline.empty()) baseline = plan::load_cluster(f.baseline);
  plan::PlanOptions o;
  o.devices = f.gpus > 0 ? f.gpus : cluster.devices;
  o.tokens = plan::parse_count(f.tokens, "--tokens");
  if (!(f.memory_fraction > 0 && f.memory_fraction <= 1))
    throw UsageError("--memory-fraction must be in (0, 1]");
  o.memory_fraction = f.memory_fraction;
  o.large_after_s = f.large_after_days * 86400;
  // --cluster local plans plait's own trainer unless told otherwise.
  o.step.framework =
      plan::load_framework(!f.framework.empty() ? f.framework
                                                : f.cluster == "local" ? "plait" : "megatron");
  o.step.slowdowns = parse_plan_slowdowns(f.slowdowns, o.devices);
  const plan::PlanResult result = plan::plan(model, cluster, o);
  const plan::PlanReportInput in{model,  cluster, o, result, baseline ? &*baseline : nullptr,
                                 f.top, f.explain};
  if (f.json)
    std::cout << plan::plan_json(in).dump(2) << "\n";
  else
    std::cout << plan::plan_text(in);
  return 0;
}

Registrar reg("plan", [](Context& ctx) {
  auto f = std::make_shared<PlanFlags>();
  CLI::App* cmd = ctx.root.add_subcommand(
      "plan", "choose a parallel strategy for a model on a cluster and predict its time");
  cmd->add_option("--model", f->model,
                  "a preset (tiny, demo, gpt2-124m, gpt3-175b, llama-65b, ...: "
                  "docs/PLANNER.md) or a JSON file")
      ->required();
  cmd->add_option("--cluster", f->cluster,
                  "v100, a100-40gb, a100-80gb, h100, local (this machine, one device per core, measured "
                  "now), or a JSON file")
      ->required();
  cmd->add_option("--gpus", f->gpus, "devices available (default: one node)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--tokens", f->tokens, "tokens to train on, e.g. 300B")->required();
  cmd->add_option("--batch", f->batch, "global batch in sequences (default: the model's)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--top", f->top, "rows of the ranked table")->check(CLI::PositiveNumber);
  cmd->add_option("--baseline", f->baseline,
                  "also report the speed-up over one device of this cluster");
  cmd->add_option("--memory-fraction", f->memory_fraction,
                  "share of device memory a plan may use (default 0.9)");
  cmd->add_option("--large-after-days", f->large_after_days,
                  "a dataset is large when one device needs more days than this (default 1)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--framework", f->framework,
                  "what the training framework does: megatron (default), megatron-sp, "
                  "deepspeed, fsdp, flash, plait (default for --cluster local)");
  cmd->add_flag("--explain", f->explain,
                "break the recommendation's step down by operation class (GEMM, attention, "
                "element-wise, communication, bubble, optimizer)");
  cmd->add_option("--slowdown", f->slowdowns,
                  "RANK:FACTOR (repeatable): device RANK computes FACTOR times slower; its "
                  "pipeline stage gets fewer blocks (--stages in the train command)");
  cmd->add_flag("--json", f->json, "machine-readable output");
  cmd->callback([&ctx, f] { ctx.rc = run_plan(*f); });
});

}  // namespace
}  // namespace plait::cli
