#include "cli/bench_layouts.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "parallel/bench.h"
#include "layout/schedule.h"
#include "layout/stages.h"
#include "parallel/train_bench.h"
#include "tensor/blas.h"
#include "util/error.h"

namespace plait::cli {
namespace {

void check_counts(const LayoutBenchArgs& a) {
  if (a.steps <= 0 || a.rounds <= 0 || a.warmup < 0)
    throw UsageError("--steps and --rounds must be positive, got " + std::to_string(a.steps) +
                     " and " + std::to_string(a.rounds));
}

int micro_batches_of(const TrainOptions& o) {
  return o.pp > 1 ? (o.micro_batches > 0 ? o.micro_batches : o.pp) : 1;
}

// The median over rounds of one figure of each round.
double median_of(const std::vector<MeshBench>& runs, const std::function<double(const MeshBench&)>& f) {
  std::vector<double> v;
  for (const MeshBench& b : runs) v.push_back(f(b));
  return median(v);
}

std::vector<double> scaled(std::vector<double> v, double k) {
  for (double& x : v) x *= k;
  return v;
}

// 1 - stage s's compute / the pipeline's makespan (stage 0's phase, see MeshBench).
double bubble_of_makespan(const MeshBench& b, int s, int M) {
  const double makespan = b.stage_phase_s.at(0);
  if (makespan <= 0) return 0;
  return 1.0 - M * (b.stage_forward_s.at(s) + b.stage_backward_s.at(s)) / makespan;
}

}  // namespace

int run_bench_layout(const LayoutBenchArgs& a) {
  const TrainOptions& o = a.base;
  check_counts(a);
  o.validate();
  set_blas_threads(o.effective_blas_threads());
  const int P = o.pp, M = micro_batches_of(o);
  std::vector<MeshBench> runs;
  for (int r = 0; r < a.rounds; ++r) {
    runs.push_back(bench_mesh(o, a.warmup, a.steps));
    if (!a.json)
      std::fprintf(stderr, "round %d/%d: step %.1f ms, bubble %.3f\n", r + 1, a.rounds,
                   runs.back().median_step_s * 1e3, runs.back().bubble);
  }
  const double step = median_of(runs, [](const MeshBench& b) { return b.median_step_s; });
  std::vector<double> bubble(P), f(P), bw(P), of_makespan(P), step_runs, bubble_runs;
  for (int s = 0; s < P; ++s) {
    bubble[s] = median_of(runs, [s](const MeshBench& b) { return b.stage_bubble.at(s); });
    f[s] = median_of(runs, [s](const MeshBench& b) { return b.stage_forward_s.at(s); });
    bw[s] = median_of(runs, [s](const MeshBench& b) { return b.stage_backward_s.at(s); });
    of_makespan[s] = median_of(runs, [s, M](const MeshBench& b) { return bubble_of_makespan(b, s, M); });
  }
  for (const MeshBench& b : runs) {
    step_runs.push_back(b.median_step_s * 1e3);
    bubble_runs.push_back(b.bubble);
  }
  double mean_of_makespan = 0;
  for (double x : of_makespan) mean_of_makespan += x / P;
  const PipeSchedule kind = o.schedule;
  const PipeSimulation sim = simulate_pipeline(kind, M, f, bw);
  std::vector<double> sim_own(P), sim_makespan(P);
  double sim_own_mean = 0;
  for (int s = 0; s < P; ++s) {
    const double busy = M * (f[s] + bw[s]);
    sim_own[s] = sim.end[s] > 0 ? 1.0 - busy / sim.end[s] : 0;
    sim_makespan[s] = sim.makespan > 0 ? sim.idle[s] / sim.makespan : 0;
    sim_own_mean += sim_own[s] / P;
  }
  const std::vector<int> stages = stage_sizes(o.stages, o.model.layers, P);
  nlohmann::json j = {{"model", o.model.to_json()}, {"batch", o.batch},
                      {"threads_per_worker", o.effective_blas_threads()},
                      {"workers", o.workers}, {"dp", o.effective_dp()}, {"tp", o.tp},
                      {"pp", P}, {"stages", stages}, {"micro_batches", M},
                      {"schedule", to_string(o.schedule)}, {"steps", a.steps}, {"rounds", a.rounds},
                      {"step_ms", step * 1e3}, {"step_ms_runs", step_runs},
                      {"tokens_per_s", static_cast<double>(o.batch) * o.model.ctx / step},
                      {"stage_bubble", bubble},
                      {"bubble", median(bubble_runs)}, {"bubble_runs", bubble_runs},
                      {"stage_bubble_of_makespan", of_makespan},
                      {"bubble_of_makespan", mean_of_makespan},
                      {"ideal_bubble", ideal_bubble(P, M)},
                      {"stage_forward_ms", scaled(f, 1e3)},
                      {"stage_backward_ms", scaled(bw, 1e3)},
                      {"simulated_stage_bubble", sim_own},
                      {"simulated_bubble", sim_own_mean},
                      {"simulated_stage_bubble_of_makespan", sim_makespan},
                      {"simulated_bubble_of_makespan", sim.bubble}};
  if (a.json) {
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("dp %d x tp %d x pp %d (%d workers, %s, %d micro-batches): step %.1f ms, "
              "%.0f tok/s (median of %d rounds)\n",
              o.effective_dp(), o.tp, P, o.workers, to_string(o.schedule), M, step * 1e3,
              j["tokens_per_s"].get<double>(), a.rounds);
  std::printf("stage | blocks | fwd ms | bwd ms | bubble (own phase) | simulated | "
              "bubble (of makespan) | simulated\n");
  for (int s = 0; s < P; ++s)
    std::printf("%5d | %6d | %6.2f | %6.2f | %18.3f | %9.3f | %20.3f | %9.3f\n", s, stages[s],
                f[s] * 1e3, bw[s] * 1e3, bubble[s], sim_own[s], of_makespan[s], sim_makespan[s]);
  std::printf("mean bubble: %.3f own phase (simulated %.3f), %.3f of makespan (simulated %.3f); "
              "ideal (P-1)/(M+P-1) = %.3f\n",
              median(bubble_runs), sim_own_mean, mean_of_makespan, sim.bubble,
              ideal_bubble(P, M));
  return 0;
}

LayoutName parse_layout_name(const std::string& name) {
  LayoutName l;
  bool seen[3] = {false, false, false};
  size_t i = 0;
  const auto bad = [&](const std::string& why) {
    return UsageError("--compare: bad layout '" + name + "' (" + why +
                      "; write e.g. dp2, tp2, pp2, tp2pp2, dp2.tp2.pp2)");
  };
  if (name.empty()) throw bad("empty");
  while (i < name.size()) {
    if (i > 0 && (name[i] == '.' || name[i] == 'x' || name[i] == '*')) ++i;
    const std::string axis = name.substr(i, 2);
    const int k = axis == "dp" ? 0 : axis == "tp" ? 1 : axis == "pp" ? 2 : -1;
    if (k < 0) throw bad("expected dp, tp or pp at '" + name.substr(i) + "'");
    if (seen[k]) throw bad(axis + " given twice");
    seen[k] = true;
    i += 2;
    size_t j = i;
    while (j < name.size() && std::isdigit(static_cast<unsigned char>(name[j]))) ++j;
    if (j == i || j - i > 6) throw bad(axis + " needs a size");
    const int n = std::stoi(name.substr(i, j - i));
    if (n < 1) throw bad(axis + " must be at least 1");
    (k == 0 ? l.dp : k == 1 ? l.tp : l.pp) = n;
    i = j;
  }
  return l;
}

int run_bench_compare(const LayoutBenchArgs& a, const std::vector<std::string>& names) {
  check_counts(a);
  if (names.empty()) throw UsageError("--compare needs at least one layout");
  struct Entry {
    std::string name;
    TrainOptions o;
    bool mesh = false;
    std::vector<double> tps, ratio, bubble;
  };
  std::vector<Entry> e;
  for (const std::string& name : names) {
    const LayoutName l = parse_layout_name(name);
    Entry x;
    x.name = name;
    x.o = a.base;
    x.o.workers = l.dp * l.tp * l.pp;
    x.o.tp = l.tp;
    x.o.pp = l.pp;
    x.mesh = l.tp > 1 || l.pp > 1;
    x.o.dp = x.mesh ? l.dp : 0;
    if (l.pp == 1) {
      x.o.micro_batches = 0;
      x.o.stages.clear();
    }
    if (x.o.workers == 1) {  // one worker: no communication to configure
      x.o.sync.reset();
      x.o.ranks_per_node = 0;
      x.o.intra_link.clear();
      x.o.inter_link.clear();
    }
    try {
      x.o.validate();
    } catch (const UsageError& err) {
      throw UsageError("--compare " + name + ": " + err.what());
    }
    e.push_back(std::move(x));
  }
  const int n = static_cast<int>(e.size());
  for (int r = 0; r < a.rounds; ++r) {
    for (int k = 0; k < n; ++k) {
      Entry& x = e[(r + k) % n];
      set_blas_threads(x.o.effective_blas_threads());
      if (x.mesh) {
        const MeshBench b = bench_mesh(x.o, a.warmup, a.steps);
        x.tps.push_back(b.tokens_per_s);
        x.bubble.push_back(b.bubble);
      } else {
        x.tps.push_back(bench_data_parallel(x.o, a.warmup, a.steps).tokens_per_s);
      }
    }
    for (Entry& x : e) x.ratio.push_back(x.tps.back() / e[0].tps.back());
    if (!a.json) {
      std::fprintf(stderr, "round %d/%d:", r + 1, a.rounds);
      for (const Entry& x : e) std::fprintf(stderr, " %s %.0f tok/s", x.name.c_str(), x.tps.back());
      std::fprintf(stderr, "\n");
    }
  }
  nlohmann::json layouts = nlohmann::json::array();
  for (const Entry& x : e) {
    nlohmann::json l = {{"layout", x.name}, {"workers", x.o.workers},
                        {"dp", x.o.effective_dp()}, {"tp", x.o.tp}, {"pp", x.o.pp},
                        {"tokens_per_s", median(x.tps)}, {"tokens_per_s_runs", x.tps},
                        {"over_baseline", median(x.ratio)}, {"over_baseline_runs", x.ratio}};
    if (x.o.pp > 1) {
      l["micro_batches"] = micro_batches_of(x.o);
      l["bubble"] = median(x.bubble);
      l["ideal_bubble"] = ideal_bubble(x.o.pp, micro_batches_of(x.o));
    }
    layouts.push_back(l);
  }
  const TrainOptions& o = a.base;
  nlohmann::json j = {{"model", o.model.to_json()}, {"batch", o.batch},
                      {"threads_per_worker", o.blas_threads}, {"schedule", to_string(o.schedule)},
                      {"steps", a.steps}, {"rounds", a.rounds}, {"baseline", e[0].name},
                      {"layouts", layouts}};
  if (a.json) {
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("layout | workers | tok/s (median of %d rounds) | over %s (median of per-round "
              "ratios)\n",
              a.rounds, e[0].name.c_str());
  for (const nlohmann::json& l : layouts)
    std::printf("%-10s | %7d | %8.0f | %.3f\n", l["layout"].get<std::string>().c_str(),
                l["workers"].get<int>(), l["tokens_per_s"].get<double>(),
                l["over_baseline"].get<double>());
  return 0;
}

}  // namespace plait::cli
