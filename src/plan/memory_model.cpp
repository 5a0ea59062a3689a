#include "plan/memory_model.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

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

// ZeRO-3 (fp32, plait's gate): the most floats outside a dp rank's shard of the units a
// pass holds at once, the busiest dp rank's. The stage's arena is [wte Vp·C, wpe T·C]
// (first stage), its blocks, [ln_f 2C, wte's copy Vp·C with pp > 1] (last stage); the
// units are the embeddings (wte, wpe), each block and the head (ln_f, wte); a pass holds
// the unit in use and the one hinted after it: (embeddings, first block), (block,
// next block), (last block, head), the same pairs backward; a stage without blocks one
// unit at a time.
double zero3_gathered_floats(double Vp, double C, double T, double block, int layers, bool first,
                             bool last, bool copy, int dp) {
  using Range = std::pair<double, double>;
  std::vector<std::vector<Range>> units;  // in forward order
  double at = 0;
  if (first) units.push_back({{0, Vp * C}, {Vp * C, Vp * C + T * C}}), at = Vp * C + T * C;
  for (int l = 0; l < layers; ++l, at += block) units.push_back({{at, at + block}});
  if (last) units.push_back({{at, at + 2 * C}, copy ? Range{at + 2 * C, at + 2 * C + Vp * C} : Range{0, Vp * C}});
  const double total = at + (last ? 2 * C + (copy ? Vp * C : 0) : 0);
  double most = 0;
  for (int r = 0; r < dp; ++r) {
    // comm::shard_of: the first total mod dp shards one float longer
    const double base = std::floor(total / dp), extra = total - base * dp;
    const double lo = r * base + std::min<double>(r, extra), hi = lo + base + (r < extra ? 1 : 0);
    const auto outside = [&](const std::vector<Range>& u) {
      double n = 0;
      for (const auto& [b, e] : u) n += (e - b) - std::max(0.0, std::min(e, hi) - std::max(b, lo));
      return n;
    };
    for (size_t i = 0; i < units.size(); ++i) {
      double held = outside(units[i]);
      if (i + 1 < units.size() && layers > 0) held += outside(units[i + 1]);
      most = std::max(most, held);
    }
  }
  return most;
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

MemoryEstimate plait_stage_memory(const ModelSpec& m, const Layout& l, int stage,
                                  int zero_stage) {
  const int layers = layout_stages(m, l)[stage];
  const bool first = stage == 0, last = stage == l.pp - 1;
  const double C = m.dim, t = l.tp, T = m.ctx, b = l.micro_batch, N = b * T;
  const double Vp = std::ceil(m.vocab / 64.0) * 64, att = b * m.heads / t * T * T;
  double params = layers * (12 * C * C / t + 7 * C / t + 6 * C);
  if (first) params += Vp * C + T * C;
  if (last) params += 2 * C + (l.pp > 1 ? Vp * C : 0);
  const double full_block = N * (4 * C + 12 * C / t + 4) + att;
  double kept_block = full_block, redo = 0;
  if (l.recompute == Recompute::selective) kept_block -= att, redo = att + N * C / t;
  if (l.recompute == Recompute::full) kept_block = N * C, redo = full_block;
  double slot = N * C + (first ? N : 0) + layers * kept_block;
  if (last) slot += N + N * C + 2 * N + N * Vp;
  const bool mesh = l.tp > 1 || l.pp > 1;  // else a Replica: one micro-batch at a time
  const int in_flight = mesh ? peak_in_flight(l.schedule, stage, l.pp, l.micro_batches) : 1;
  const double dp = l.dp;
  constexpr double kFloat = 4;
  MemoryEstimate e;
  e.weights = kFloat * params / (zero_stage >= 3 ? dp : 1);
  e.grads = kFloat * params / (zero_stage >= 2 ? dp : 1);
  e.optimizer = 2 * kFloat * params / (zero_stage >= 1 ? dp : 1);
  e.activations = kFloat * in_flight * slot;
  e.workspace = kFloat * (N * (2 * C + 12 * C / t) + att + redo + N * C +
                          (last ? N * Vp + 2 * N : 0) + 2 * N);
  if (mesh)
    e.comm = kFloat * N * C * (1 + (first ? 0 : l.micro_batches));
  if (zero_stage >= 3 && l.dp > 1)
    e.comm += kFloat * zero3_gathered_floats(Vp, C, T, 12 * C * C / t + 7 * C / t + 6 * C, layers,
                                             first, last, !first, l.dp);
  return e;
}

MemoryEstimate stage_memory(const ModelSpec& m, Format f, const Layout& l, int stage,
                            const Framework& fw) {
  if (f == Format::fp32) return plait_stage_memory(m, l, stage, fw.zero_stage);
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
  e.grads = params * b.grad / (fw.zero_stage >= 2 ? dp : 1);
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
