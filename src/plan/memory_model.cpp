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

// comm::shard_of: dp rank r's shard [lo, hi) of `total` floats, the first total mod dp
// shards one float longer.
std::pair<double, double> shard_of(double total, int dp, int r) {
  const double base = std::floor(total / dp), extra = total - base * dp;
  const double lo = r * base + std::min<double>(r, extra);
  return {lo, lo + base + (r < extra ? 1 : 0)};
}

constexpr double kPage = 4096;  // bytes
double pages_up(double bytes) { return std::ceil(bytes / kPage) * kPage; }
double pages_down(double bytes) { return std::floor(bytes / kPage) * kPage; }

// The whole model's arena under data parallelism (one stage, no tensor split), floats:
// wte Vp·C, wpe T·C, the blocks, ln_f 2C; its units in forward order (ZeRO-3's gate:
// the embeddings, each block, the head = ln_f and the tied wte).
struct DpArena {
  double Vp, C, T, block, total;
  int layers;
  std::vector<std::vector<std::pair<double, double>>> units() const {
    std::vector<std::vector<std::pair<double, double>>> u;
    u.push_back({{0, Vp * C + T * C}});  // wte and wpe, adjacent: the gate joins them
    for (int l = 0; l < layers; ++l) {
      const double at = Vp * C + T * C + l * block;
      u.push_back({{at, at + block}});
    }
    u.push_back({{total - 2 * C, total}, {0, Vp * C}});
    return u;
  }
};

// ZeRO-2/3's gradient pools of dp rank r (parallel/grad_buckets.h), bytes. The buckets
// of `bucket` floats are cut from the arena's end and again at the shard boundaries;
// the others' buckets borrow pooled pages: those starting inside wte (written first
// and last) from a pool of their exact whole pages, the rest from slots of the largest
// bucket rounded up to pages plus a page, min(ceil(block / slot) + 2, their number),
// all reserved at the start.
double grad_pool_bytes(const DpArena& a, double bucket, int dp, int r) {
  std::vector<std::pair<double, int>> others;  // length, early (begins inside wte)
  double most = 0;
  for (double end = a.total; end > 0;) {
    const double begin = std::max(0.0, end - bucket);
    for (int o = 0; o < dp; ++o) {
      const auto [lo, hi] = shard_of(a.total, dp, o);
      const double b = std::max(begin, lo), e = std::min(end, hi);
      if (b >= e) continue;
      most = std::max(most, e - b);
      if (o != r) others.push_back({e - b, b < a.Vp * a.C});
    }
    end = begin;
  }
  const double slot = pages_up(4 * most) + kPage;
  double early = 0, main = 0;
  for (const auto& [len, is_early] : others) is_early ? early += pages_down(4 * len) : ++main;
  const double next = std::ceil(4 * a.block / slot) + 1;
  return early + std::min(next + 1, main) * slot;
}

// ZeRO-3's parameter pool of dp rank r (parallel/zero.h): each window of a unit outside
// the shard (a range's part below it, its part above it) with a whole page borrows a
// slot of the largest unit's bytes (rounded up to pages) while the unit is held; a pass
// holds the unit in use and the one hinted after it (zero3_gathered_floats' pairs): as
// many slots reserved as the pair with the most windows has.
double param_pool_bytes(const DpArena& a, int dp, int r) {
  const auto [lo, hi] = shard_of(a.total, dp, r);
  const auto units = a.units();
  double unit = 0;
  std::vector<int> windows;
  for (const auto& u : units) {
    double n = 0;
    int w = 0;
    for (const auto& [b, e] : u) {
      n += e - b;
      w += 4 * (std::min(e, lo) - b) >= kPage;  // below the shard
      w += 4 * (e - std::max(b, hi)) >= kPage;  // above it
    }
    unit = std::max(unit, n);
    windows.push_back(w);
  }
  int most = 0;
  for (size_t i = 0; i + 1 < windows.size(); ++i) most = std::max(most, windows[i] + windows[i + 1]);
  return most * pages_up(4 * unit);
}

}  // namespace

ZeroPools zero_pools(const ModelSpec& m, const Layout& l, int zero_stage, double bucket_mb,
                     int dp_rank) {
  ZeroPools p;
  if (zero_stage < 2 || l.dp < 2 || l.tp > 1 || l.pp > 1) return p;  // meshes: no pools
  const double C = m.dim, Vp = std::ceil(m.vocab / 64.0) * 64, T = m.ctx;
  const double block = 12 * C * C + 13 * C;
  const DpArena a{Vp, C, T, block, Vp * C + T * C + m.layers * block + 2 * C, m.layers};
  const double bucket = std::max(1.0, std::floor(bucket_mb * 1024 * 1024 / 4));
  const auto of = [&](int r) {
    return ZeroPools{grad_pool_bytes(a, bucket, l.dp, r), zero_stage >= 3 ? param_pool_bytes(a, l.dp, r) : 0};
  };
  if (dp_rank >= 0) return of(dp_rank);
  for (int r = 0; r < l.dp; ++r) {
    const ZeroPools q = of(r);
    if (q.grads + q.params > p.grads + p.params) p = q;
  }
  return p;
}

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
                                  int zero_stage, double bucket_mb, int dp_rank) {
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
  const ZeroPools pools = zero_pools(m, l, zero_stage, bucket_mb, dp_rank);
  e.pools = pools.grads + pools.params;
  e.comm += e.pools;  // the gathered units live in the parameter pool's slots
  if (zero_stage >= 3 && l.dp > 1 && mesh)
    e.comm += kFloat * zero3_gathered_floats(Vp, C, T, 12 * C * C / t + 7 * C / t + 6 * C, layers,
                                             first, last, !first, l.dp);
  return e;
}

MemoryEstimate stage_memory(const ModelSpec& m, Format f, const Layout& l, int stage,
                            const Framework& fw) {
  if (f == Format::fp32) return plait_stage_memory(m, l, stage, fw.zero_stage, fw.bucket_mb);
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
