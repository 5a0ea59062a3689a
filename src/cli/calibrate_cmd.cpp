// `plait bench calibrate [--json] [--out FILE]`: measures this machine (sgemm on one
// thread, memory bandwidth, GELU rate, in-process link) for `plait simulate --profile`.
#include <iostream>
#include <memory>

#include "cli/calibrate.h"
#include "cli/registry.h"
#include "plan/units.h"

namespace plait::cli {
namespace {

struct CalibrateFlags {
  bool json = false;
  std::string out;
  double probe_s = 0.25;
};

int run_calibrate(const CalibrateFlags& f) {
  const plan::MachineProfile p = measure_machine(f.probe_s);
  if (!f.out.empty()) p.save(f.out);
  if (f.json) {
    std::cout << p.to_json().dump(2) << "\n";
    return 0;
  }
  std::cout << "sgemm (1 thread)   " << plan::human_rate(p.sgemm_flops, "FLOP/s") << "\n"
            << "memory (1 thread)  " << plan::human_rate(p.memory_Bps, "B/s") << "\n"
            << "GELU (1 thread)    " << plan::human_rate(p.gelu_per_s, "elements/s") << "\n"
            << "in-process link    " << plan::human_seconds(p.link.latency_s) << " latency, "
            << plan::human_rate(p.link.bandwidth_Bps, "B/s") << "\n"
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
  cmd->callback([&ctx, f] { ctx.rc = run_calibrate(*f); });
});

}  // namespace
}  // namespace plait::cli
