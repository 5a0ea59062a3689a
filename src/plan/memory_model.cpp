#include "plan/memory_model.h"

#include "layout/schedule.h"
#include "layout/stages.h"

namespace plait::plan {

int stage_layers(const ModelSpec& m, int stages, int stage) {
  return balance_stages(m.layers, stages)[stage];
}

double stage_params(const ModelSpec& m, const Layout& l, int stage) {
  const double h = m.dim, t = l.tp;
  // Per block: 12h² + 9h split (matrices and their biases), 4h replicated (layer norms).
  double p = stage_layers(m, l.pp, stage) * ((12 * h * h + 9 * h) / t + 4 * h);
  if (stage == 0) p += m.vocab * h / t + m.ctx * h;  // wte (split by vocab), wpe
  if (stage == l.pp - 1) p += 2 * h + (l.pp > 1 ? m.vocab * h / t : 0);  // ln_f, head copy
  return p;
}

double activation_bytes_per_token(const ModelSpec& m, Format f, int tp, bool recompute) {
  const FormatBytes b = format_bytes(f);
  const double h = m.dim, a = m.heads, s = m.ctx;
  if (recompute) return h * b.element;
  return b.act_replicated_per_h * h + (b.act_split_per_h * h + b.act_per_score * a * s) / tp;
}

MemoryEstimate stage_memory(const ModelSpec& m, Format f, const Layout& l, int stage) {
  const FormatBytes b = format_bytes(f);
  const double params = stage_params(m, l, stage);
  const double tokens = static_cast<double>(l.micro_batch) * m.ctx;
  const double full_layer = tokens * activation_bytes_per_token(m, f, l.tp, false);
  const double kept_layer = tokens * activation_bytes_per_token(m, f, l.tp, l.recompute);
  const int in_flight = peak_in_flight(l.schedule, stage, l.pp, l.micro_batches);
  MemoryEstimate e;
  e.weights = params * b.weight;
  e.grads = params * b.grad;
  e.optimizer = params * b.optimizer;
  e.activations = in_flight * stage_layers(m, l.pp, stage) * kept_layer;
  e.workspace = full_layer;
  if (stage == l.pp - 1) e.workspace += tokens * 2.0 * m.vocab / l.tp * 4;  // logits, probs
  return e;
}

MemoryEstimate device_memory(const ModelSpec& m, Format f, const Layout& l) {
  MemoryEstimate first = stage_memory(m, f, l, 0);
  if (l.pp == 1) return first;
  MemoryEstimate last = stage_memory(m, f, l, l.pp - 1);
  return last.total() > first.total() ? last : first;
}

}  // namespace plait::plan
