#include "plan/simulate.h"

#include <sstream>

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
  need(m.heads % l.tp == 0,
       "--tp " + std::to_string(l.tp) + " does not divide --heads " + std::to_string(m.heads));
  need(l.pp <= m.layers,
       "--pp " + std::to_string(l.pp) + " exceeds --layers " + std::to_string(m.layers));
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
  l.schedule = parse_schedule(f.schedule);
  l.sync = parse_sync_method(f.sync == "mpi" ? "ring" : f.sync);  // see simulate.h
  need(f.servers >= 1, "--servers must be >= 1");
  l.servers = f.servers;
  return l;
}

Simulation simulate(const ModelSpec& m, const Layout& l, const ClusterSpec& machine,
                    long long steps, const StepOptions& opt, const MachineProfile& profile) {
  Simulation s{m, l, machine, step_cost(m, machine, l, opt), steps, {}};
  const int threads = l.devices();
  if (threads > profile.cores)
    s.notes.push_back(std::to_string(threads) + " workers share " + std::to_string(profile.cores) +
                      " cores: each runs at " + percent(1.0 * profile.cores / threads, 0) +
                      " of one core");
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
  o << "\nstep     " << human_seconds(c.step_s) << " = "
    << join_times({{"pipeline", c.pipeline_s},
                   {"exposed gradient sync", c.dp_exposed_s},
                   {"optimizer", c.optimizer_s}},
                  " + ")
    << "\n         " << fixed(c.tokens_per_s(), 0) << " tokens/s; " << s.steps << " steps in "
    << human_seconds(c.step_s * s.steps) << "\n";
  o << "  micro-batch " << human_seconds(c.micro_batch_s) << " x " << l.micro_batches + l.pp - 1
    << " slots (bubble " << percent(c.bubble_fraction) << "): "
    << join_times({{"forward", c.forward_s},
                   {"backward", c.backward_s},
                   {"tensor allreduce", c.tensor_comm_s},
                   {"stage transfer", c.p2p_s}})
    << "\n";
  if (c.dp_comm_s > 0)
    o << "  gradient allreduce " << human_seconds(c.dp_comm_s) << " ("
      << human_seconds(c.dp_exposed_s) << " not hidden by the backward pass)\n";
  o << "memory   " << human_bytes(c.memory.total()) << " per worker (weights "
    << human_bytes(c.memory.weights) << ", gradients " << human_bytes(c.memory.grads)
    << ", Adam moments " << human_bytes(c.memory.optimizer) << ", activations "
    << human_bytes(c.memory.activations) << ", workspace " << human_bytes(c.memory.workspace)
    << ")\n";
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
          {"tokens_per_s", c.tokens_per_s()},
          {"run_s", c.step_s * s.steps},
          {"steps", s.steps},
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
            {"workspace", c.memory.workspace}}},
          {"notes", s.notes}};
}

}  // namespace plait::plan
