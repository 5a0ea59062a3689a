#include "plan/plan_report.h"

#include <cstdio>
#include <sstream>

#include "plan/flops.h"
#include "plan/train_command.h"
#include "plan/units.h"
#include "util/subprocess.h"

namespace plait::plan {
namespace {

std::string yes_no(bool b) { return b ? "yes" : "no"; }

std::string scientific(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", x);
  return buf;
}

std::string days_text(double days) { return fixed(days, days < 1 ? 3 : 1); }

// When the search's sync method is not the rule of thumb's, say what each costs here.
std::string sync_note(const PlanReportInput& in, const Candidate& c) {
  const Layout& l = c.layout;
  const SyncAlgorithm rule = in.result.decision.rule_sync;
  if (l.dp <= 1 || l.sync == rule) return "";
  const Topology topo = data_topology(in.cluster, l);
  const double bytes = stage_params(in.model, l, 0) * format_bytes(in.cluster.format).grad;
  return "  sync: " + std::string(to_string(l.sync)) + " rather than the rule's " +
         to_string(rule) + ": " + human_seconds(allreduce_cost(l.sync, topo, bytes).seconds) +
         " vs " + human_seconds(allreduce_cost(rule, topo, bytes).seconds) + " for " +
         human_bytes(bytes) + " of gradients over " + std::to_string(l.dp) + " ranks (" +
         std::to_string(topo.ranks_per_node) + " per node)\n";
}

std::string sync_name(const Layout& l) { return l.dp > 1 ? to_string(l.sync) : "-"; }

std::string header(const PlanReportInput& in) {
  const ModelSpec& m = in.model;
  const ClusterSpec& c = in.cluster;
  const Decision& d = in.result.decision;
  std::ostringstream o;
  o << "model    " << m.name << ": " << human_count(m.params()) << " parameters; " << m.layers
    << " layers, dim " << m.dim << ", " << m.heads << " heads, ctx " << m.ctx << ", vocab "
    << m.vocab << "; batch " << m.batch << " x " << m.ctx << " tokens\n";
  o << "cluster  " << in.options.devices << " x " << c.device.name << " (" << c.name << ": "
    << d.nodes << (d.nodes == 1 ? " node" : " nodes") << " of " << c.devices_per_node << "; "
    << human_rate(c.device.peak_flops, "FLOP/s") << " peak, GEMMs at most "
    << percent(c.device.gemm_max_fraction * c.device.sustained_clock, 0) << "; "
    << human_bytes(c.device.memory_bytes)
    << ", " << human_bytes(d.usable_memory) << " usable; links " << format_link(c.intra)
    << " in a node, " << format_link(c.inter) << " between nodes; " << to_string(c.format)
    << " precision; framework " << in.options.step.framework.name << ")\n";
  o << "training " << human_count(in.options.tokens)
    << " tokens: " << scientific(training_flops(m, in.options.tokens))
    << " FLOPs with attention (6ND = " << scientific(six_n_d(m, in.options.tokens)) << ")\n";
  return o.str();
}

// When the recommendation leaves devices idle, say so, with the best plan on all of them.
std::string devices_note(const PlanReportInput& in) {
  const PlanResult& r = in.result;
  const Candidate& c = r.ranked[*r.recommended];
  const int n = in.options.devices, used = c.layout.devices();
  if (used == n) return "";
  std::string s = "  devices: uses " + std::to_string(used) + " of " + std::to_string(n) + " (" +
                  std::to_string(n - used) + " idle) because that is faster: ";
  if (!r.best_on_all_devices) return s + "no accepted layout uses all " + std::to_string(n) + "\n";
  const Candidate& all = r.ranked[*r.best_on_all_devices];
  return s + "the best on all " + std::to_string(n) + " (" + describe_layout(all.layout) +
         ") takes " + fixed(all.cost.step_s / c.cost.step_s, 2) + "x as long\n";
}

// Where the fastest plan departs from a rule, what it gains: "data parallelism
// finishes in 0.056 days, the rule's one device in 0.882".
std::string departure(const PlanReportInput& in) {
  const PlanResult& r = in.result;
  const Decision& d = r.decision;
  if (!r.recommended || d.strategy == d.rule_strategy) return "";
  std::string s = std::string("; on ") + std::to_string(in.options.devices) + " devices " +
                  to_string(d.strategy) + " finishes in " +
                  days_text(r.ranked[*r.recommended].days) + " days";
  for (const Candidate& c : r.ranked)
    if (follows(d.rule_strategy, c.layout))
      return s + ", " + to_string(d.rule_strategy) + " in " + days_text(c.days);
  return s + " (no " + std::string(to_string(d.rule_strategy)) + " layout is accepted)";
}

std::string decision_text(const PlanReportInput& in) {
  const Decision& d = in.result.decision;
  const MemoryEstimate& mem = d.one_device_memory;
  const bool has_plan = in.result.recommended.has_value();
  const bool data = d.strategy == Strategy::data || d.strategy == Strategy::hybrid;
  std::ostringstream o;
  o << "\nDecision tree (the rules of thumb; the conclusion is the fastest plan that fits)\n";
  o << "  1. Does the model fit on one device?  " << yes_no(d.fits_one_device) << ": needs "
    << human_bytes(mem.total()) << " (model state "
    << human_bytes(mem.weights + mem.grads + mem.optimizer) << ", activations "
    << human_bytes(mem.activations + mem.workspace) << " for one sequence, recomputing), "
    << human_bytes(d.usable_memory) << " usable"
    << (d.fits_one_device ? "\n" : "  -> model parallelism\n");
  o << "  2. Is the dataset large?              " << yes_no(d.large_dataset) << ": "
    << human_seconds(d.single_device_s) << " compute-only on one device at "
    << human_rate(in.cluster.device.sustained_flops(), "FLOP/s") << " (threshold "
    << human_seconds(d.large_after_s) << ")  -> "
    << (d.large_dataset ? (d.fits_one_device ? "data parallelism" : "add data parallelism: hybrid")
                        : (d.fits_one_device ? "one device would do" : "model parallelism alone would do"))
    << departure(in) << "\n";
  o << "  3. How large is the cluster?          " << to_string(d.cluster_size) << ": " << d.nodes
    << (d.nodes == 1 ? " node" : " nodes") << "  -> " << to_string(d.rule_sync) << " allreduce";
  if (!data)
    o << " (if data parallelism is added)\n";
  else if (d.sync != d.rule_sync)
    o << " by the rule; " << to_string(d.sync) << " is faster here (sync: below)\n";
  else
    o << " for the data-parallel axis\n";
  o << "  => " << (has_plan ? to_string(d.strategy) : "no plan fits");
  if (has_plan && data) o << ", " << to_string(d.sync) << " allreduce";
  o << "\n";
  return o.str();
}

std::string table_text(const PlanReportInput& in) {
  const PlanResult& r = in.result;
  std::ostringstream o;
  o << "\nSearch: the fastest variant of each dp x tp x pp mesh that fits, fastest first"
    << " (* follows the decision tree)\n";
  if (r.ranked.empty()) {
    o << "  no layout fits: see the families below\n";
    return o.str();
  }
  char line[256];
  std::snprintf(line, sizeof line, "  %3s %5s %4s %4s %3s %5s  %-12s %-9s %9s %10s %6s %7s %9s\n",
                "#", "dp", "tp", "pp", "b", "M", "sync", "recompute", "step", "mem/dev", "MFU",
                "bubble", "days");
  o << line;
  for (size_t i = 0; i < r.ranked.size() && static_cast<int>(i) < in.top; ++i) {
    const Candidate& c = r.ranked[i];
    const Layout& l = c.layout;
    const bool mark = follows(r.decision.strategy, l);
    std::snprintf(
        line, sizeof line, "  %2zu%s %5d %4d %4d %3d %5d  %-12s %-9s %9s %10s %6s %7s %9s\n", i + 1,
        mark ? "*" : " ", l.dp, l.tp, l.pp, l.micro_batch, l.micro_batches, sync_name(l).c_str(),
        to_string(l.recompute), human_seconds(c.cost.step_s).c_str(),
        human_bytes(c.cost.memory.total()).c_str(), percent(c.cost.mfu).c_str(),
        percent(c.cost.bubble_fraction).c_str(), days_text(c.days).c_str());
    o << line;
  }
  if (static_cast<int>(r.ranked.size()) > in.top)
    o << "  ... " << r.ranked.size() - in.top << " more meshes (--top N)\n";
  return o.str();
}

std::string recommendation_text(const PlanReportInput& in) {
  const PlanResult& r = in.result;
  std::ostringstream o;
  o << "\n";
  if (!r.recommended) {
    o << "Recommended: none. No layout fits in " << human_bytes(r.decision.usable_memory)
      << " per device on " << in.options.devices
      << (in.options.devices == 1 ? " device" : " devices")
      << "; compute-only time on one device: " << human_seconds(r.decision.single_device_s)
      << ".\n";
    return o.str();
  }
  const Candidate& c = r.ranked[*r.recommended];
  const Layout& l = c.layout;
  const StepCost& s = c.cost;
  o << "Recommended: dp " << l.dp << " x tp " << l.tp << " x pp " << l.pp << " on " << l.devices()
    << (l.devices() == 1 ? " device" : " devices") << ", micro-batch " << l.micro_batch << " x "
    << l.micro_batches << (l.pp > 1 ? ", 1F1B, " : ", ")
    << (l.dp > 1 ? std::string(to_string(l.sync)) + " allreduce, " : "")
    << (l.recompute == Recompute::none ? std::string("no recomputation")
                                       : std::string(to_string(l.recompute)) + " recomputation")
    << "\n";
  o << "  step " << human_seconds(s.step_s) << " = "
    << join_times({{"pipeline", s.pipeline_s},
                   {"exposed gradient sync", s.dp_exposed_s},
                   {"optimizer", s.optimizer_s}},
                  " + ")
    << "\n    per micro-batch " << human_seconds(s.micro_batch_s) << ": "
    << join_times({{"compute", s.forward_s + s.backward_s + s.recompute_s},
                   {"tensor allreduce", s.tensor_comm_s},
                   {"stage transfer", s.p2p_s}})
    << "; bubble " << percent(s.bubble_fraction);
  if (s.dp_comm_s > 0) o << "; gradient allreduce " << human_seconds(s.dp_comm_s) << " in all";
  o << "\n";
  o << "  memory per device " << human_bytes(s.memory.total()) << " (weights "
    << human_bytes(s.memory.weights) << ", gradients " << human_bytes(s.memory.grads)
    << ", optimizer " << human_bytes(s.memory.optimizer) << ", activations "
    << human_bytes(s.memory.activations) << ", workspace " << human_bytes(s.memory.workspace)
    << ")\n";
  o << "  " << human_rate(s.hardware_flops / s.step_s / l.devices(), "FLOP/s")
    << " per device executed, MFU " << percent(s.mfu) << "; " << days_text(c.days)
    << " days to train\n";
  o << sync_note(in, c);
  o << devices_note(in);
  const double one = r.decision.single_device_s;
  o << "  speed-up over one " << in.cluster.device.name << " (compute-only " << human_seconds(one)
    << (r.decision.fits_one_device ? "" : ", and the model does not fit")
    << "): " << fixed(one / (c.days * 86400), 0) << "x\n";
  if (in.baseline) {
    const double base = single_device_seconds(in.model, in.baseline->device, in.options.tokens);
    o << "  speed-up over one " << in.baseline->device.name << " (compute-only "
      << human_seconds(base) << "): " << fixed(base / (c.days * 86400), 0) << "x\n";
  }
  const TrainCommand t = train_command(in.model, in.cluster, l, in.options.tokens,
                                       in.options.step.framework.zero_stage);
  o << "\nRun it (in one process, workers as threads; docs/LAUNCH.md for many machines):\n  "
    << argv_text(t.argv) << "\n  " << argv_text(t.mpi_argv) << "\n";
  for (const std::string& n : t.notes) o << "  note: " << n << "\n";
  return o.str();
}

const char* class_label(const std::string& name) {
  if (name == "gemm") return "GEMM";
  if (name == "attention") return "attention";
  if (name == "elementwise") return "element-wise";
  if (name == "tensor_comm") return "tensor comm";
  if (name == "pipeline_comm") return "pipeline comm";
  if (name == "bubble") return "bubble";
  if (name == "dp_comm_exposed") return "exposed DP comm";
  return "optimizer";
}

std::string stages_text(const std::vector<int>& stages) {
  std::string s;
  for (size_t i = 0; i < stages.size(); ++i) {
    if (i == 8 && stages.size() > 10) {
      s += ",...," + std::to_string(stages.back());
      break;
    }
    if (i) s += ',';
    s += std::to_string(stages[i]);
  }
  return s;
}

// --explain: where one step of the recommendation goes, by operation class.
std::string explain_text(const PlanReportInput& in) {
  const PlanResult& r = in.result;
  if (!in.explain || !r.recommended) return "";
  const Candidate& c = r.ranked[*r.recommended];
  const StepCost& s = c.cost;
  const Framework& fw = in.options.step.framework;
  std::ostringstream o;
  o << "\nExplain: one step of the recommendation, " << human_seconds(s.step_s)
    << ", by operation class (framework " << fw.name << ": " << fw.source << ")\n";
  char line[160];
  std::snprintf(line, sizeof line, "  %-16s %10s %7s  %s\n", "class", "time", "share",
                "efficiency assumed");
  o << line;
  double sum = 0;
  for (const ClassTime& k : s.breakdown(in.cluster.device)) {
    sum += k.seconds;
    const std::string eff =
        k.efficiency > 0 ? percent(k.efficiency) + " of " + k.basis : std::string("-");
    std::snprintf(line, sizeof line, "  %-16s %10s %7s  %s\n", class_label(k.name),
                  human_seconds(k.seconds).c_str(), percent(k.seconds / s.step_s).c_str(),
                  eff.c_str());
    o << line;
  }
  std::snprintf(line, sizeof line, "  %-16s %10s\n", "total", human_seconds(sum).c_str());
  o << line;
  const DeviceSpec& d = in.cluster.device;
  o << "  GEMMs: at most " << percent(d.gemm_max_fraction, 0) << " of peak (measured) at "
    << percent(d.sustained_clock, 0)
    << " of the boost clock, less by tile and wave quantisation and where memory-bound; "
    << (fw.fused_attention ? "attention fused (flash)" : "attention unfused (s x s scores)")
    << "; element-wise at " << percent(d.memory_efficiency, 0) << " of memory bandwidth\n";
  if (c.layout.pp > 1)
    o << "  stages (blocks): " << stages_text(s.stages) << "; slowest stage "
      << human_seconds(s.micro_batch_s) << " per micro-batch\n";
  return o.str();
}

nlohmann::json explain_json(const PlanReportInput& in, const Candidate& c) {
  nlohmann::json classes = nlohmann::json::array();
  for (const ClassTime& k : c.cost.breakdown(in.cluster.device))
    classes.push_back({{"class", k.name},
                       {"seconds", k.seconds},
                       {"share", k.seconds / c.cost.step_s},
                       {"efficiency", k.efficiency},
                       {"efficiency_of", k.basis}});
  return {{"framework", in.options.step.framework.name},
          {"step_s", c.cost.step_s},
          {"classes", classes},
          {"stages", c.cost.stages},
          {"stage_s", c.cost.stage_s}};
}

std::string families_text(const PlanReportInput& in) {
  std::ostringstream o;
  o << "\nFamilies (layouts tried / fitting / accepted)\n";
  char line[64];
  for (const FamilyVerdict& f : in.result.families) {
    std::snprintf(line, sizeof line, "  %-21s %6d %6d %6d  ", f.family.c_str(), f.tried, f.fitting,
                  f.accepted);
    o << line << f.verdict << "\n";
  }
  return o.str();
}

nlohmann::json layout_json(const Candidate& c) {
  const Layout& l = c.layout;
  const StepCost& s = c.cost;
  return {{"dp", l.dp},
          {"tp", l.tp},
          {"pp", l.pp},
          {"devices", l.devices()},
          {"micro_batch", l.micro_batch},
          {"micro_batches", l.micro_batches},
          {"schedule", to_string(l.schedule)},
          {"sync", l.dp > 1 ? to_string(l.sync) : "none"},
          {"recompute", to_string(l.recompute)},
          {"stages", s.stages},
          {"family", family(l)},
          {"step_s", s.step_s},
          {"pipeline_s", s.pipeline_s},
          {"bubble_fraction", s.bubble_fraction},
          {"micro_batch_s", s.micro_batch_s},
          {"compute_s", s.forward_s + s.backward_s + s.recompute_s},
          {"tensor_comm_s", s.tensor_comm_s},
          {"p2p_s", s.p2p_s},
          {"dp_comm_s", s.dp_comm_s},
          {"dp_exposed_s", s.dp_exposed_s},
          {"optimizer_s", s.optimizer_s},
          {"memory_bytes", s.memory.total()},
          {"memory",
           {{"weights", s.memory.weights},
            {"grads", s.memory.grads},
            {"optimizer", s.memory.optimizer},
            {"activations", s.memory.activations},
            {"workspace", s.memory.workspace}}},
          {"mfu", s.mfu},
          {"tokens_per_s", s.tokens_per_s()},
          {"days", c.days}};
}

}  // namespace

std::string plan_text(const PlanReportInput& in) {
  return header(in) + decision_text(in) + table_text(in) + recommendation_text(in) +
         explain_text(in) + families_text(in);
}

nlohmann::json plan_json(const PlanReportInput& in) {
  const ModelSpec& m = in.model;
  const ClusterSpec& c = in.cluster;
  const PlanResult& r = in.result;
  const Decision& d = r.decision;
  nlohmann::json j;
  j["model"] = {{"name", m.name},   {"params", m.params()}, {"layers", m.layers},
                {"dim", m.dim},     {"heads", m.heads},     {"ctx", m.ctx},
                {"vocab", m.vocab}, {"batch", m.batch}};
  j["cluster"] = {{"name", c.name},
                  {"device", c.device.name},
                  {"devices", in.options.devices},
                  {"devices_per_node", c.devices_per_node},
                  {"nodes", d.nodes},
                  {"peak_flops", c.device.peak_flops},
                  {"gemm_efficiency", c.device.gemm_efficiency},
                  {"memory_bytes", c.device.memory_bytes},
                  {"usable_memory_bytes", d.usable_memory},
                  {"precision", to_string(c.format)}};
  j["tokens"] = in.options.tokens;
  j["flops"] = training_flops(m, in.options.tokens);
  j["six_n_d"] = six_n_d(m, in.options.tokens);
  j["decision"] = {{"fits_one_device", d.fits_one_device},
                   {"one_device_memory_bytes", d.one_device_memory.total()},
                   {"large_dataset", d.large_dataset},
                   {"single_device_s", d.single_device_s},
                   {"large_after_s", d.large_after_s},
                   {"cluster_size", to_string(d.cluster_size)},
                   {"sync", to_string(d.sync)},
                   {"strategy", to_string(d.strategy)},
                   {"rule_sync", to_string(d.rule_sync)},
                   {"rule_strategy", to_string(d.rule_strategy)}};
  j["ranked"] = nlohmann::json::array();
  for (const Candidate& cand : r.ranked) {
    auto row = layout_json(cand);
    row["follows_tree"] = follows(d.strategy, cand.layout);
    row["command_argv"] =
        train_command(m, c, cand.layout, in.options.tokens, in.options.step.framework.zero_stage)
            .argv;
    j["ranked"].push_back(row);
  }
  j["recommended"] = r.recommended ? layout_json(r.ranked[*r.recommended]) : nlohmann::json();
  j["recommended_follows_tree"] = r.recommended_follows_tree;
  j["framework"] = {{"name", in.options.step.framework.name},
                    {"source", in.options.step.framework.source}};
  if (r.recommended) {
    j["explain"] = explain_json(in, r.ranked[*r.recommended]);
    j["idle_devices"] = in.options.devices - r.ranked[*r.recommended].layout.devices();
    j["best_on_all_devices"] =
        r.best_on_all_devices ? layout_json(r.ranked[*r.best_on_all_devices]) : nlohmann::json();
  }
  if (r.recommended) {
    const TrainCommand t =
        train_command(m, c, r.ranked[*r.recommended].layout, in.options.tokens,
                      in.options.step.framework.zero_stage);
    j["command"] = argv_text(t.argv);
    j["command_argv"] = t.argv;
    j["mpi_command"] = argv_text(t.mpi_argv);
    j["mpi_command_argv"] = t.mpi_argv;
    j["command_notes"] = t.notes;
    j["speedup_over_one_device"] = d.single_device_s / (r.ranked[*r.recommended].days * 86400);
    if (in.baseline)
      j["baseline"] = {
          {"device", in.baseline->device.name},
          {"single_device_s", single_device_seconds(m, in.baseline->device, in.options.tokens)},
          {"speedup", single_device_seconds(m, in.baseline->device, in.options.tokens) /
                          (r.ranked[*r.recommended].days * 86400)}};
  }
  j["families"] = nlohmann::json::array();
  for (const FamilyVerdict& f : r.families)
    j["families"].push_back({{"family", f.family},
                             {"tried", f.tried},
                             {"fitting", f.fitting},
                             {"accepted", f.accepted},
                             {"verdict", f.verdict}});
  return j;
}

}  // namespace plait::plan
