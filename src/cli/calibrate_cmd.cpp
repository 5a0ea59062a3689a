// `plait bench calibrate [--json] [--out FILE]`: measures this machine (sgemm on one
// thread, memory bandwidth, GELU rate, in-process link) for `plait simulate --profile`.
#include <iostream>
#include <memory>

#include "cli/calibrate.h"
#include "cli/output_paths.h"
#include "cli/registry.h"
#include "plan/units.h"

namespace plait::cli {
namespace {

struct CalibrateFlags {
  bool json = false;
  std::string out;
  double probe_s = 0.25;
  bool check = false;
  CheckOptions c;
};

int run_calibrate(CalibrateFlags& f) {
  if (f.check) {
    f.c.json = f.json;
    return run_calibrate_check(f.c);
  }
  prepare_output_file(f.out, "--out");
  const plan::MachineProfile p = measure_machine(f.probe_s);
  if (!f.out.empty()) p.save(f.out);
  if (f.json) {
    std::cout << p.to_json().dump(2) << "\n";
    return 0;
  }
  std::cout << "sgemm (1 thread)   " << plan::human_rate(p.sgemm_flops, "FLOP/s") << "\n"
            << "memory (1 thread)  " << plan::human_rate(p.memory_Bps, "B/s") << "\n"
            << "GELU (1 thread)    " << plan::human_rate(p.gelu_per_s, "elements/s") << "\n"
            << "attention (1 thr.) " << plan::human_rate(p.attention_rate(), "FLOP/s") << "\n"
            << "in-process link    " << plan::human_seconds(p.link.latency_s) << " latency, "
            << plan::human_rate(p.link.bandwidth_Bps, "B/s") << "\n"
            << "threads transport  " << plan::human_seconds(p.p2p_latency(true))
            << " latency (spinning), " << plan::human_seconds(p.p2p_latency(false))
            << " (sleeping), " << plan::human_rate(p.p2p_link().bandwidth_Bps, "B/s") << "\n"
            << "sgemm per thread   " << [&] {
                 std::string s;
                 for (size_t i = 0; i < p.parallel_share.size(); ++i)
                   s += (i ? ", " : "") + std::to_string(plan::MachineProfile::kParallelThreads[i]) +
                        " threads " + plan::percent(p.parallel_share[i], 0);
                 return s;
               }() << " of one thread's rate\n"
            << "cores              " << p.cores << "\n"
            << "memory             " << plan::human_bytes(p.memory_bytes) << "\n";
  if (!f.out.empty())
    std::cout << "saved to " << f.out << " (plait simulate --profile " << f.out << ")\n";
  return 0;
}

Registrar reg("calibrate", [](Context& ctx) {
  auto f = std::make_shared<CalibrateFlags>();
  CLI::App* cmd = ctx.bench.add_subcommand(
      "calibrate", "measure this machine's rates for plait simulate (about 1 s)");
  cmd->add_flag("--json", f->json, "machine-readable output");
  cmd->add_option("--out", f->out, "save the profile to FILE");
  cmd->add_option("--probe-seconds", f->probe_s, "seconds per measurement (default 0.25)")
      ->check(CLI::Range(0.01, 60.0));
  cmd->add_flag("--check", f->check,
                "simulated against measured step time for the calibration layouts "
                "(docs/perf/planner.md)");
  cmd->add_option("--rounds", f->c.rounds, "--check: rounds (medians over them)")
      ->capture_default_str();
  cmd->add_option("--steps", f->c.steps, "--check: timed steps per bench")->capture_default_str();
  cmd->add_option("--only", f->c.only, "--check: these layouts only (names as printed)")
      ->delimiter(',');
  cmd->add_option("--check-probe-seconds", f->c.probe_s,
                  "--check: seconds per measurement of the profile before each bench")
      ->capture_default_str();
  for (auto [name, v] : {std::pair{"--layers", &f->c.layers}, {"--dim", &f->c.dim},
                         {"--heads", &f->c.heads}, {"--ctx", &f->c.ctx}, {"--batch", &f->c.batch}})
    cmd->add_option(name, *v, std::string("--check: model ") + (name + 2))->capture_default_str();
  cmd->callback([&ctx, f] { ctx.rc = run_calibrate(*f); });
});

}  // namespace
}  // namespace plait::cli
