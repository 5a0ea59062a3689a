#include "plan/memory_model.h"

#include "layout/schedule.h"
#include "layout/stages.h"

namespace plait::plan {

std::vector<int> layout_stages(const ModelSpec& m, const Layout& l) {
  return l.stages.empty() ? balance_stages(m.layers, l.pp) : l.stages;
}

int stage_layers(const ModelSpec& m, int stages, int stage) {
  return balance_stages(m.layers, stages)[stage];
}

namespace {

double params_of(const ModelSpec& m, const Layout& l, int stage, int layers) {
  const double h = m.dim, t = l.tp;
  // Per block: the matrices and their biases split, the layer norms (4h) replicated.
  double p = layers * ((m.block_params() - 4 * h) / t + 4 * h);
  if (stage == 0) p += m.vocab * h / t + (m.positions == Positions::learned ? m.ctx * h : 0);
  if (stage == l.pp - 1) {
    p += 2 * h;  // ln_f
    if (!m.tied_embeddings || l.pp > 1) p += m.vocab * h / t;  // the head (or its copy)
  }
  return p;
}

}  // namespace

double stage_params(const ModelSpec& m, const Layout& l, int stage) {
  return params_of(m, l, stage, layout_stages(m, l)[stage]);
}

double activation_bytes_per_token(const ModelSpec& m, Format f, int tp, Recompute r,
                                  const Framework& fw) {
  const FormatBytes b = format_bytes(f);
  const double h = m.dim, a = m.heads, s = m.ctx, t = tp;
  const double R = fw.sequence_parallel ? 1 / t : 1;
  if (r == Recompute::full) return h * b.element * R;
  const bool scores = r == Recompute::none && !fw.fused_attention;
  if (f == Format::fp32)
    return b.act_replicated_per_h * h + (b.act_split_per_h * h + b.act_per_score * a * s) / t;
  const double kv = m.kv_dim(), ff = m.ffn_dim();
  const double split = 2 * (h + kv) + 2 * kv + 2 * h + (m.gated_mlp ? 6 : 4) * ff;
  return b.act_replicated_per_h * h * R + (split + (scores ? b.act_per_score * a * s : 0)) / t;
}

double activation_bytes_per_token(const ModelSpec& m, Format f, int tp, bool recompute) {
  return activation_bytes_per_token(m, f, tp, recompute ? Recompute::full : Recompute::none);
}

MemoryEstimate stage_memory(const ModelSpec& m, Format f, const Layout& l, int stage,
                            const Framework& fw) {
  const FormatBytes b = format_bytes(f);
  const int layers = layout_stages(m, l)[stage];
  const double params = params_of(m, l, stage, layers);
  const double tokens = static_cast<double>(l.micro_batch) * m.ctx;
  const double full_layer = tokens * activation_bytes_per_token(m, f, l.tp, Recompute::none, fw);
  const double kept_layer = tokens * activation_bytes_per_token(m, f, l.tp, l.recompute, fw);
  const int in_flight = peak_in_flight(l.schedule, stage, l.pp, l.micro_batches);
  const double dp = l.dp;
  MemoryEstimate e;
  e.weights = params * b.weight / (fw.zero_stage >= 3 ? dp : 1);
  e.grads = params * b.grad / (fw.zero_stage >= 3 ? dp : 1);
  e.optimizer = params * b.optimizer / (fw.zero_stage >= 1 ? dp : 1);
  e.activations = in_flight * layers * kept_layer;
  e.workspace = full_layer;
  if (fw.zero_stage >= 3 && l.dp > 1)  // two layers' weights gathered (this one, the next)
    e.workspace += 2 * (m.block_params() / l.tp) * b.weight;
  if (stage == l.pp - 1) e.workspace += tokens * 2.0 * m.vocab / l.tp * 4;  // logits, probs
  return e;
}

MemoryEstimate device_memory(const ModelSpec& m, Format f, const Layout& l, const Framework& fw) {
  MemoryEstimate best = stage_memory(m, f, l, 0, fw);
  for (int s = 1; s < l.pp; ++s) {
    MemoryEstimate e = stage_memory(m, f, l, s, fw);
    if (e.total() > best.total()) best = e;
  }
  return best;
}

}  // namespace plait::plan
