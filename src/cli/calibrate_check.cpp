// `plait bench calibrate --check`: the simulator against measured steps. For each of a
// fixed set of local layouts (1, 2 and 4 workers; dp, tp, pp and hybrids), round after
// round: measure the machine (a short profile, so the prediction sees the load the
// bench will see), time the layout's training steps (bench_data_parallel or
// bench_mesh: the trainers' own step code on random bytes), simulate the same flags
// with that profile. Reports each layout's median measured and simulated step, their
// ratio, and the machine's load average while it ran (docs/perf/planner.md).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/calibrate.h"
#include "cli/model_spec_of.h"
#include "parallel/bench.h"
#include "parallel/train_bench.h"
#include "plan/simulate.h"
#include "plan/units.h"
#include "tensor/blas.h"
#include "util/error.h"

namespace plait::cli {
namespace {

struct Config {
  std::string name;
  std::string flags;  // as `plait train` / `plait simulate` take them
  plan::RunFlags run;
};

std::vector<Config> configs() {
  std::vector<Config> c;
  auto add = [&](std::string name, std::string flags, auto set) {
    plan::RunFlags f;
    set(f);
    c.push_back({std::move(name), std::move(flags), f});
  };
  add("1 worker", "--workers 1", [](plan::RunFlags& f) { f.workers = 1; });
  add("dp2", "--workers 2", [](plan::RunFlags& f) { f.workers = 2; });
  add("tp2", "--tp 2", [](plan::RunFlags& f) { f.tp = 2; });
  add("pp2 1f1b M4", "--pp 2 --micro-batches 4", [](plan::RunFlags& f) {
    f.pp = 2, f.micro_batches = 4;
  });
  add("dp4 ring", "--workers 4 --sync ring", [](plan::RunFlags& f) {
    f.workers = 4, f.sync = SyncAlgorithm::ring;
  });
  add("tp2 pp2 1f1b M4", "--tp 2 --pp 2 --micro-batches 4", [](plan::RunFlags& f) {
    f.tp = 2, f.pp = 2, f.micro_batches = 4;
  });
  add("dp2 pp2 gpipe M4", "--dp 2 --pp 2 --micro-batches 4 --schedule gpipe",
      [](plan::RunFlags& f) { f.dp = 2, f.pp = 2, f.micro_batches = 4, f.schedule = PipeSchedule::gpipe; });
  add("dp2 tp2", "--dp 2 --tp 2", [](plan::RunFlags& f) { f.dp = 2, f.tp = 2; });
  return c;
}

double load_average() {
  std::ifstream in("/proc/loadavg");
  double l = 0;
  in >> l;
  return l;
}

TrainOptions train_options(const CheckOptions& o, const plan::RunFlags& f) {
  TrainOptions t;
  t.model = GPTConfig{256, o.ctx, o.layers, o.dim, o.heads};
  t.batch = o.batch;
  t.steps = o.warmup + o.steps;
  t.progress = false;
  t.tp = std::max(1, f.tp);
  t.pp = std::max(1, f.pp);
  t.dp = f.dp;
  t.workers = f.workers > 0 ? f.workers : std::max(1, f.dp) * t.tp * t.pp;
  t.micro_batches = f.micro_batches;
  t.schedule = f.schedule;
  t.sync = f.sync;
  return t;
}

double measure_step(const CheckOptions& o, const plan::RunFlags& f) {
  const TrainOptions t = train_options(o, f);
  t.validate();
  set_blas_threads(t.effective_blas_threads());
  if (t.model_parallel()) return bench_mesh(t, o.warmup, o.steps).median_step_s;
  return bench_data_parallel(t, o.warmup, o.steps).median_step_s;
}

struct Row {
  std::vector<double> measured, simulated, load;
  plan::Simulation last;
};

}  // namespace

int run_calibrate_check(const CheckOptions& o) {
  if (o.rounds < 1 || o.steps < 1 || o.warmup < 0)
    throw UsageError("--rounds and --steps must be positive, --warmup >= 0");
  std::vector<Config> all = configs();
  if (!o.only.empty()) {
    std::vector<Config> kept;
    for (const auto& c : all)
      for (const auto& name : o.only)
        if (c.name == name) kept.push_back(c);
    if (kept.empty()) {
      std::string names;
      for (const auto& c : all) names += (names.empty() ? "" : ", ") + c.name;
      throw UsageError("--only: no configuration by that name (" + names + ")");
    }
    all = kept;
  }
  const GPTConfig model{256, o.ctx, o.layers, o.dim, o.heads};
  const plan::ModelSpec m =
      model_spec_of(model, o.batch, "check", "plait bench calibrate --check");
  std::vector<Row> rows(all.size());
  for (int round = 0; round < o.rounds; ++round) {
    for (size_t i = 0; i < all.size(); ++i) {
      const double l0 = load_average();
      const plan::MachineProfile p = measure_machine(o.probe_s);
      const double measured = measure_step(o, all[i].run);
      const plan::LocalRun run =
          plan::local_run_from_flags(m, all[i].run, 0, p.cores, 0, std::nullopt, std::nullopt);
      rows[i].last = plan::simulate(run, p, 1);
      rows[i].measured.push_back(measured);
      rows[i].simulated.push_back(rows[i].last.cost.step_s);
      rows[i].load.push_back((l0 + load_average()) / 2);
      if (!o.json)
        std::fprintf(stderr, "round %d/%d %-18s measured %8.1f ms  simulated %8.1f ms  (%.2f)  "
                             "load %.1f  sgemm %.1f GFLOP/s\n",
                     round + 1, o.rounds, all[i].name.c_str(), measured * 1e3,
                     rows[i].simulated.back() * 1e3, rows[i].simulated.back() / measured,
                     rows[i].load.back(), p.sgemm_flops / 1e9);
    }
  }
  nlohmann::json j = nlohmann::json::array();
  if (!o.json)
    std::printf("%-18s %-48s %11s %11s %7s %6s\n", "layout", "flags", "measured", "simulated",
                "sim/meas", "load");
  int off = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    const double meas = median(rows[i].measured), sim = median(rows[i].simulated);
    const double load = median(rows[i].load);
    if (std::abs(sim / meas - 1) > 0.25) ++off;
    j.push_back({{"layout", all[i].name},
                 {"flags", all[i].flags},
                 {"measured_ms", rows[i].measured},
                 {"simulated_ms", rows[i].simulated},
                 {"median_measured_ms", meas * 1e3},
                 {"median_simulated_ms", sim * 1e3},
                 {"ratio", sim / meas},
                 {"load", rows[i].load},
                 {"simulation", plan::simulate_json(rows[i].last)}});
    for (auto* k : {"measured_ms", "simulated_ms"})
      for (auto& v : j.back()[k]) v = v.get<double>() * 1e3;
    if (!o.json)
      std::printf("%-18s %-48s %8.1f ms %8.1f ms %7.2f %6.1f\n", all[i].name.c_str(),
                  all[i].flags.c_str(), meas * 1e3, sim * 1e3, sim / meas, load);
  }
  if (o.json)
    std::cout << nlohmann::json{{"model",
                                 {{"layers", o.layers},
                                  {"dim", o.dim},
                                  {"heads", o.heads},
                                  {"ctx", o.ctx},
                                  {"batch", o.batch}}},
                                {"rounds", o.rounds},
                                {"steps", o.steps},
                                {"configs", j},
                                {"off_by_more_than_25pct", off}}
                     .dump(2)
              << "\n";
  else
    std::printf("%d of %zu layouts off by more than 25%%\n", off, all.size());
  return 0;
}

}  // namespace plait::cli
