#include "parallel/memory_report.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace plait {

RankMemory measure_memory(const GPT& model, const AdamW& adam, const Zero* zero) {
  RankMemory m;
  constexpr double kFloat = sizeof(float);
  m.param_floats = model.params.size();
  m.weights = kFloat * model.params.size();
  m.grads = kFloat * model.grads.size();
  m.optimizer = adam.state_bytes();
  m.activations = kFloat * model.slot_floats_held();
  m.workspace = kFloat * (model.activation_floats() - model.slot_floats_held());
  m.peak_micro_batches = model.peak_in_flight();
  m.peak_rss = peak_rss_bytes();
  if (zero) {
    const Zero::Held h = zero->held(model.params, model.grads);
    // the pools are communication buffers (the ZeRO paper's constant-size buffers):
    // the gradient pool holds buckets on their way to their owners
    m.weights = h.params, m.grads = h.grads, m.comm = h.gathered + h.grad_pool;
    m.grad_pool = h.grad_pool, m.param_pool = h.param_pool;
  }
  return m;
}

double peak_rss_bytes() {
  rusage u{};
  if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
  return 1024.0 * static_cast<double>(u.ru_maxrss);  // Linux: kilobytes
}

namespace {
std::string mb(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f MB", bytes * 1e-6);
  return buf;
}
}  // namespace

std::string memory_kinds_line(const std::vector<RankMemory>& all) {
  if (all.empty()) return "";
  const RankMemory& m = *std::max_element(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.total() < b.total();
  });
  const std::string pools =
      m.grad_pool + m.param_pool > 0
          ? " (ZeRO page pools: " + mb(m.grad_pool) + " gradients, " + mb(m.param_pool) + " parameters)"
          : "";
  return "memory of rank " + std::to_string(m.rank) + " (the largest): weights " + mb(m.weights) +
         ", gradients " + mb(m.grads) + ", optimizer " + mb(m.optimizer) + ", activations " +
         mb(m.activations) + " (" + std::to_string(m.peak_micro_batches) +
         " micro-batch slot" + (m.peak_micro_batches == 1 ? "" : "s") + "), communication " +
         mb(m.comm) + pools + ", workspace " + mb(m.workspace) + "; total " + mb(m.total()) +
         "; peak RSS " + mb(m.peak_rss) + " (the process)";
}

nlohmann::json memory_kinds_event(const std::vector<RankMemory>& all, const std::string& recompute) {
  nlohmann::json ranks = nlohmann::json::array();
  for (const auto& m : all)
    ranks.push_back({{"rank", m.rank}, {"dp", m.dp}, {"tp", m.tp}, {"pp", m.pp},
                     {"weights", m.weights}, {"grads", m.grads}, {"optimizer", m.optimizer},
                     {"activations", m.activations}, {"comm", m.comm},
                     {"workspace", m.workspace}, {"total", m.total()},
                     {"grad_pool", m.grad_pool}, {"param_pool", m.param_pool},
                     {"peak_micro_batches", m.peak_micro_batches}, {"peak_rss", m.peak_rss},
                     {"param_floats", m.param_floats}});
  return {{"event", "memory"}, {"recompute", recompute}, {"ranks", ranks}};
}

}  // namespace plait
