#include "plan/simulate.h"

#include <algorithm>
#include <functional>
#include <sstream>

#include "layout/schedule.h"
#include "layout/stage_partition.h"
#include "layout/stages.h"
#include "plan/framework.h"
#include "plan/memory_model.h"
#include "plan/units.h"
#include "util/error.h"

namespace plait::plan {
namespace {

int ceil_div(int a, int b) { return (a + b - 1) / b; }

void need(bool ok, const std::string& message) {
  if (!ok) throw UsageError(message);
}

}  // namespace

Layout layout_from_flags(const ModelSpec& m, const RunFlags& f) {
  Layout l;
  l.tp = f.tp > 0 ? f.tp : 1;
  l.pp = f.pp > 0 ? f.pp : 1;
  const int workers = f.workers > 0 ? f.workers : (f.dp > 0 ? f.dp : 1) * l.tp * l.pp;
  need(workers % (l.tp * l.pp) == 0,
       "--workers " + std::to_string(workers) +
           " is not a multiple of --tp x --pp = " + std::to_string(l.tp * l.pp));
  l.dp = f.dp > 0 ? f.dp : workers / (l.tp * l.pp);
  need(l.dp * l.tp * l.pp == workers, "--dp x --tp x --pp = " + std::to_string(l.dp * l.tp * l.pp) +
                                          " but --workers is " + std::to_string(workers));
  check_model_split(m.layers, m.dim, m.heads, l.tp, l.pp, f.stages);  // as the trainer
  need(m.batch >= l.dp, "--batch " + std::to_string(m.batch) +
                            " gives no sequence to some of "
                            "the " +
                            std::to_string(l.dp) + " data-parallel ranks");
  const int share = ceil_div(m.batch, l.dp);
  if (f.micro_batches > 0)
    l.micro_batches = f.micro_batches;
  else if (f.micro_batch > 0)
    l.micro_batches = ceil_div(share, f.micro_batch);
  else
    l.micro_batches = l.pp > 1 ? l.pp : 1;
  need(l.micro_batches <= share, "--micro-batches " + std::to_string(l.micro_batches) +
                                     " exceeds the " + std::to_string(share) +
                                     " sequences of a data-parallel rank");
  l.micro_batch = ceil_div(share, l.micro_batches);
  l.schedule = f.schedule;
  // see simulate.h: MPI_Allreduce (OpenMPI picks its algorithm) is costed as ring
  l.sync = !f.sync || *f.sync == SyncAlgorithm::mpi ? SyncAlgorithm::ring : *f.sync;
  need(f.servers >= 0, "--servers must be >= 0");
  need(f.servers == 0 || (l.tp == 1 && l.pp == 1),
       "--servers cannot be combined with --tp/--pp");
  l.servers = std::max(1, f.servers);
  l.recompute = f.recompute;
  return l;
}

LocalRun local_run_from_flags(const ModelSpec& m, const RunFlags& f, int blas_threads, int cores,
                              int ranks_per_node, const std::optional<LinkSpec>& intra,
                              const std::optional<LinkSpec>& inter) {
  LocalRun r;
  r.model = m;
  r.layout = layout_from_flags(m, f);
  r.stages = f.stages;
  r.micro_batch = r.mesh() ? 0 : f.micro_batch;
  r.servers = f.servers;
  r.zero = f.zero;
  r.bucket_mb = f.bucket_mb;
  r.blas_threads = blas_threads > 0 ? blas_threads : std::max(1, cores / r.workers());
  need(ranks_per_node >= 0, "--ranks-per-node must be >= 0");
  r.ranks_per_node = ranks_per_node;
  r.intra = intra;
  r.inter = inter;
  for (const auto& [rank, factor] : f.slowdowns) {
    need(rank >= 0 && rank < r.workers(), "--slowdown names rank " + std::to_string(rank) +
                                             ", which a run of " + std::to_string(r.workers()) +
                                             " workers lacks");
    r.slowdown.resize(static_cast<size_t>(r.workers()), 1.0);
    r.slowdown[static_cast<size_t>(rank)] = factor;
  }
  if (!f.sync && f.servers == 0) {  // the trainer's choice
    const int D = r.layout.dp;
    const int per_node = ranks_per_node > 0 ? std::clamp(ranks_per_node / r.layout.tp, 1, D) : D;
    r.layout.sync = choose_sync(std::nullopt, D, (D + per_node - 1) / per_node).algorithm;
  }
  return r;
}

namespace {

// Every partition of `layers` blocks over P stages (each >= 1), the earlier stages'
// larger sizes first; false when there are more than kMaxStageSearch.
bool each_partition(int layers, int P, const std::function<void(const std::vector<int>&)>& f) {
  double count = 1;  // C(layers - 1, P - 1)
  for (int i = 1; i < P; ++i) count = count * (layers - i) / i;
  if (count > kMaxStageSearch) return false;
  std::vector<int> sz(static_cast<size_t>(P), 1);
  std::function<void(int, int)> rec = [&](int s, int left) {
    if (s == P - 1) {
      sz[static_cast<size_t>(s)] = left;
      f(sz);
      return;
    }
    for (int k = left - (P - 1 - s); k >= 1; --k) sz[static_cast<size_t>(s)] = k, rec(s + 1, left - k);
  };
  rec(0, layers);
  return true;
}

// The fastest --stages by the local model (ties: the earlier stages larger).
void search_stages(const LocalRun& run, const MachineProfile& profile, Simulation& s) {
  if (run.layout.pp <= 1) return;
  LocalRun r = run;
  each_partition(run.model.layers, run.layout.pp, [&](const std::vector<int>& sz) {
    r.stages = sz;
    const double t = predict_local(r, profile).step_s;
    if (s.best_stages.empty() || t < s.best_step_s * (1 - 1e-9)) s.best_stages = sz, s.best_step_s = t;
  });
}

}  // namespace

Simulation simulate(const LocalRun& run, const MachineProfile& profile, long long steps) {
  const ModelSpec& m = run.model;
  const Layout& l = run.layout;
  const ClusterSpec machine = local_cluster(profile, l.devices(), run.blas_threads,
                                            run.ranks_per_node, run.intra, run.inter);
  StepOptions so;
  so.framework = load_framework("plait");
  so.framework.zero_stage = run.zero;
  so.framework.bucket_mb = run.bucket_mb;
  Simulation s{m, l, run, machine, step_cost(m, machine, l, so), predict_local(run, profile),
               steps, {}, {}, 0};
  // Memory of the trainer's micro-batch: data parallelism's --micro-batch b runs
  // micro-batches of b (the last one smaller), not of the even split.
  Layout mem = l;
  mem.stages = run.stages;  // the trainer's split (empty: balanced by blocks)
  if (!run.mesh() && run.micro_batch > 0) mem.micro_batch = std::min(l.micro_batch * l.micro_batches, run.micro_batch);
  s.cost.memory = device_memory(m, machine.format, mem, so.framework);
  // The step time is the local model's; the planner's cost keeps the memory.
  const LocalPrediction& p = s.local;
  StepCost& c = s.cost;
  c.forward_s = p.forward_s;
  c.backward_s = p.backward_s;
  c.recompute_s = 0;
  c.tensor_comm_s = p.tensor_comm_s;
  c.p2p_s = p.p2p_s;
  c.pipeline_s = p.pipeline_s;
  c.bubble_fraction = p.bubble_fraction;
  c.dp_comm_s = c.dp_exposed_s = p.dp_comm_s;
  c.optimizer_s = p.optimizer_s;
  c.step_s = p.step_s;
  s.notes = p.notes;
  const int workers = l.devices() + run.servers;
  if (p.peak_share < 0.995)
    s.notes.push_back(fixed(p.peak_threads, 0) + " threads compute at once on " +
                      std::to_string(profile.cores) + " cores (" + percent(p.peak_share, 0) +
                      " of a core each, by the profile's parallel_share)");
  if (workers > profile.cores)
    s.notes.push_back(std::to_string(workers) +
                      " ranks > cores: the transport's waits sleep (wake-up latency " +
                      human_seconds(profile.p2p_latency(false)) + ")");
  if (m.batch % l.dp != 0)
    s.notes.push_back("uneven split: the busiest data-parallel rank takes " +
                      std::to_string(l.micro_batch * l.micro_batches) + " of " +
                      std::to_string(m.batch) + " sequences");
  if (l.micro_batch * l.micro_batches * l.dp != m.batch && m.batch % l.dp == 0)
    s.notes.push_back("micro-batches of " + std::to_string(l.micro_batch) +
                      " do not divide a rank's share evenly; the last one is smaller");
  if (s.cost.memory.total() > machine.device.memory_bytes)
    s.notes.push_back("does not fit: " + human_bytes(s.cost.memory.total()) + " per worker, " +
                      human_bytes(machine.device.memory_bytes) + " available");
  search_stages(run, profile, s);
  return s;
}

std::string simulate_text(const Simulation& s) {
  const ModelSpec& m = s.model;
  const Layout& l = s.layout;
  const StepCost& c = s.cost;
  const DeviceSpec& d = s.machine.device;
  std::ostringstream o;
  o << "run      layers " << m.layers << ", dim " << m.dim << ", heads " << m.heads << ", ctx "
    << m.ctx << ", batch " << m.batch << " (" << human_count(m.params()) << " parameters); "
    << l.devices() << (l.devices() == 1 ? " worker" : " workers") << ": dp " << l.dp << " x tp "
    << l.tp << " x pp " << l.pp << ", " << l.micro_batches << " x " << l.micro_batch
    << (l.micro_batch == 1 ? " sequence" : " sequences")
    << (l.pp > 1 ? std::string(", ") + to_string(l.schedule) : "")
    << (l.dp > 1 ? std::string(", ") + to_string(l.sync) + " sync" : "") << "\n";
  o << "machine  " << s.machine.source << "\n         per worker "
    << human_rate(d.peak_flops, "FLOP/s") << " sgemm, " << human_rate(d.memory_Bps, "B/s")
    << " memory, " << human_rate(d.gelu_per_s, "GELU/s") << "; links "
    << format_link(s.machine.intra) << " in a node of " << s.machine.devices_per_node << ", "
    << format_link(s.machine.inter) << " between nodes\n";
  const LocalPrediction& p = s.local;
  o << "\nstep     " << human_seconds(c.step_s) << " on rank 0 = "
    << join_times({{"compute", p.compute_s},
                   {"tensor allreduce", p.tensor_comm_s},
                   {"stage messages and bubble", p.p2p_s},
                   {"gradient sync", p.dp_comm_s},
                   {"small allreduces", p.other_comm_s},
                   {"optimizer", p.optimizer_s}},
                  " + ")
    << "\n         " << fixed(c.tokens_per_s(), 0) << " tokens/s; " << s.steps << " steps in "
    << human_seconds(c.step_s * s.steps) << "\n";
  o << "  one micro-batch of " << l.micro_batch << " on the slowest stage, a core to itself: "
    << join_times({{"forward", p.forward_s}, {"backward", p.backward_s}}) << "\n";
  if (l.pp > 1)
    o << "  pipeline " << human_seconds(p.pipeline_s) << " on rank 0, " << l.micro_batches
      << " micro-batches over " << l.pp << " stages; bubble " << percent(p.bubble_fraction)
      << " (ideal " << percent(ideal_bubble(l.pp, l.micro_batches)) << ")\n";
  if (!s.best_stages.empty()) {
    const std::vector<int> now = s.run.stages.empty() ? balance_stages(m.layers, l.pp) : s.run.stages;
    o << "  stages " << stages_string(now) << "; the fastest of every split by this model: "
      << stages_string(s.best_stages) << ", step " << human_seconds(s.best_step_s);
    if (s.best_stages != now)
      o << " (" << fixed(c.step_s / s.best_step_s, 2) << "x faster): train with --stages "
        << stages_string(s.best_stages);
    o << "\n";
  }
  o << "  cores: up to " << fixed(p.peak_threads, 0) << " threads compute at once, each at "
    << percent(p.peak_share, 0) << " of a core\n";
  o << "memory   " << human_bytes(c.memory.total()) << " per worker (weights "
    << human_bytes(c.memory.weights) << ", gradients " << human_bytes(c.memory.grads)
    << ", Adam moments " << human_bytes(c.memory.optimizer) << ", activations "
    << human_bytes(c.memory.activations) << ", communication " << human_bytes(c.memory.comm)
    << (c.memory.pools > 0 ? " (ZeRO page pools " + human_bytes(c.memory.pools) + ")" : std::string())
    << ", workspace " << human_bytes(c.memory.workspace) << "; recompute "
    << to_string(l.recompute) << ")\n";
  for (const std::string& n : s.notes) o << "note     " << n << "\n";
  return o.str();
}

nlohmann::json simulate_json(const Simulation& s) {
  const Layout& l = s.layout;
  const StepCost& c = s.cost;
  return {{"model",
           {{"layers", s.model.layers},
            {"dim", s.model.dim},
            {"heads", s.model.heads},
            {"ctx", s.model.ctx},
            {"vocab", s.model.vocab},
            {"batch", s.model.batch},
            {"params", s.model.params()}}},
          {"layout",
           {{"workers", l.devices()},
            {"dp", l.dp},
            {"tp", l.tp},
            {"pp", l.pp},
            {"micro_batch", l.micro_batch},
            {"micro_batches", l.micro_batches},
            {"schedule", to_string(l.schedule)},
            {"sync", to_string(l.sync)},
            {"servers", l.servers}}},
          {"machine",
           {{"source", s.machine.source},
            {"worker_flops", s.machine.device.peak_flops},
            {"worker_memory_Bps", s.machine.device.memory_Bps},
            {"worker_gelu_per_s", s.machine.device.gelu_per_s},
            {"intra", format_link(s.machine.intra)},
            {"inter", format_link(s.machine.inter)},
            {"ranks_per_node", s.machine.devices_per_node}}},
          {"step_s", c.step_s},
          {"compute_s", s.local.compute_s},
          {"other_comm_s", s.local.other_comm_s},
          {"peak_threads", s.local.peak_threads},
          {"peak_share", s.local.peak_share},
          {"blas_threads", s.run.blas_threads},
          {"tokens_per_s", c.tokens_per_s()},
          {"run_s", c.step_s * s.steps},
          {"steps", s.steps},
          {"stages", s.run.stages.empty() && l.pp > 0 ? balance_stages(s.model.layers, l.pp) : s.run.stages},
          {"best_stages", s.best_stages},
          {"best_step_s", s.best_step_s},
          {"pipeline_s", c.pipeline_s},
          {"bubble_fraction", c.bubble_fraction},
          {"forward_s", c.forward_s},
          {"backward_s", c.backward_s},
          {"tensor_comm_s", c.tensor_comm_s},
          {"p2p_s", c.p2p_s},
          {"dp_comm_s", c.dp_comm_s},
          {"dp_exposed_s", c.dp_exposed_s},
          {"optimizer_s", c.optimizer_s},
          {"memory_bytes", c.memory.total()},
          {"memory",
           {{"weights", c.memory.weights},
            {"grads", c.memory.grads},
            {"optimizer", c.memory.optimizer},
            {"activations", c.memory.activations},
            {"comm", c.memory.comm},
            {"pools", c.memory.pools},
            {"workspace", c.memory.workspace}}},
          {"recompute", to_string(l.recompute)},
          {"notes", s.notes}};
}

}  // namespace plait::plan
