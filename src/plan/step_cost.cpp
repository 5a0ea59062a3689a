#include "plan/step_cost.h"

#include <algorithm>

#include "layout/stage_partition.h"
#include "layout/stages.h"
#include "plan/flops.h"
#include "plan/layer_cost.h"

namespace plait::plan {
namespace {

// The work of one micro-batch on each stage.
struct StageWork {
  PassCost layer;           // one layer: forward, backward, recomputation
  double layer_comm = 0;    // its exposed tensor-parallel allreduces
  PassCost embedding, head;  // forward + backward
  double p2p = 0;

  double layer_s() const { return layer.seconds() + layer_comm; }
  PassCost compute(int layers, bool first, bool last) const {
    PassCost c = layer * layers;
    if (first) c += embedding;
    if (last) c += head;
    return c;
  }
  double stage_s(int layers, bool first, bool last) const {
    return compute(layers, first, last).seconds() + layers * layer_comm + p2p;
  }
};

// Blocks per stage: the layout's, or the partition whose busiest stage is least with
// the embedding and the head counted in blocks of this layer time.
std::vector<int> partition(const ModelSpec& m, const Layout& l, const StageWork& w,
                           const std::vector<double>& scale) {
  if (!l.stages.empty()) return l.stages;
  if (l.pp == 1) return {m.layers};
  std::vector<double> extra(l.pp, 0);
  extra.front() += w.embedding.seconds() / w.layer_s();
  extra.back() += w.head.seconds() / w.layer_s();
  if (std::all_of(scale.begin(), scale.end(), [](double x) { return x == 1; }))
    return balance_stages_weighted(m.layers, extra);
  StageCosts c;
  c.extra = extra, c.scale = scale;
  return partition_stages(m.layers, c).sizes;
}

// Fills the per-micro-batch fields of `s` (the slowest stage's) and the pipeline.
void pipeline_costs(const ModelSpec& m, const ClusterSpec& c, const Layout& l,
                    const StepOptions& opt, StepCost& s) {
  const Framework& fw = opt.framework;
  const PartShape shape{c.format, l.tp, l.micro_batch, l.recompute};
  const LayerCost lc = layer_cost(m, c.device, fw, shape);
  const double act_msg = static_cast<double>(l.micro_batch) * m.ctx * m.dim *
                         format_bytes(c.format).element;
  const double tp_allreduce =
      allreduce_cost(SyncAlgorithm::ring, tensor_topology(c, l), act_msg).seconds;
  StageWork w;
  w.layer = lc.total();
  // Each micro-batch's weight gradients added into the step's sum (framework.h).
  const double layer_params = (m.block_params() - 4.0 * m.dim) / l.tp + 4.0 * m.dim;
  if (fw.grad_accum_bytes > 0)
    w.layer.elementwise += stream(c.device, layer_params * fw.grad_accum_bytes);
  w.layer_comm = lc.tp_allreduces * tp_allreduce * (1 - fw.tp_overlap);
  w.embedding = embedding_cost(m, c.device, shape);
  w.head = head_cost(m, c.device, fw, shape);
  w.p2p = l.pp > 1 ? 2 * stage_link(c, l).seconds(act_msg) : 0;
  const std::vector<double> scale = stage_slowdowns(l, opt);
  s.stages = partition(m, l, w, scale);

  int slowest = 0;
  s.stage_s.assign(l.pp, 0);
  double sum = 0;
  for (int i = 0; i < l.pp; ++i) {
    s.stage_s[i] = scale[i] * w.stage_s(s.stages[i], i == 0, i == l.pp - 1);
    sum += s.stage_s[i];
    if (s.stage_s[i] > s.stage_s[slowest]) slowest = i;
  }
  const int n = s.stages[slowest];
  const bool first = slowest == 0, last = slowest == l.pp - 1;
  const PassCost ends = (first ? w.embedding : PassCost{}) + (last ? w.head : PassCost{});
  PassCost compute = w.compute(n, first, last);
  for (OpTime* o : {&compute.gemm, &compute.attention, &compute.elementwise})
    o->seconds *= scale[slowest];  // a slow device: the same work, longer
  s.gemm = compute.gemm, s.attention = compute.attention, s.elementwise = compute.elementwise;
  s.forward_s = scale[slowest] * (n * lc.forward.seconds() + ends.seconds() / 3);
  s.backward_s = scale[slowest] * (n * lc.backward.seconds() + ends.seconds() * 2 / 3);
  s.recompute_s = scale[slowest] * n * lc.recompute.seconds();
  s.tensor_comm_s = scale[slowest] * n * w.layer_comm;
  s.p2p_s = w.p2p;
  s.micro_batch_s = s.stage_s[slowest];
  s.micro_batches = l.micro_batches;
  s.pipeline_s = sum + (l.micro_batches - 1) * s.micro_batch_s;
  s.bubble_s = s.pipeline_s - l.micro_batches * s.micro_batch_s;
  s.bubble_fraction = s.bubble_s / s.pipeline_s;
}

double max_stage_params(const ModelSpec& m, const Layout& l) {
  double p = 0;
  for (int i = 0; i < l.pp; ++i) p = std::max(p, stage_params(m, l, i));
  return p;
}

// The data-parallel gradient reduction and how much of it sticks out.
void data_parallel_costs(const ModelSpec& m, const ClusterSpec& c, const Layout& l,
                         const StepOptions& opt, StepCost& s) {
  const Framework& fw = opt.framework;
  const double sharded = fw.zero_stage >= 3 ? 1.5 : 1;  // + gathering the weights
  const double grad_bytes = max_stage_params(m, l) * format_bytes(c.format).grad;
  const Topology topo = data_topology(c, l);
  s.dp_comm_s = sharded * allreduce_cost(l.sync, topo, grad_bytes).seconds;
  if (!opt.overlap || !fw.dp_overlap) {
    s.dp_exposed_s = s.dp_comm_s;
    return;
  }
  const double window = s.backward_s + s.recompute_s;  // the last micro-batch's backward
  const double last_bucket =
      allreduce_cost(l.sync, topo, std::min(grad_bytes, opt.bucket_bytes)).seconds;
  s.dp_exposed_s = std::max(s.dp_comm_s - window, std::min(last_bucket, s.dp_comm_s));
}

double executed_flops_per_token(const ModelSpec& m, const Layout& l, const Framework& fw) {
  switch (l.recompute) {
    case Recompute::none:
      return training_flops_per_token(m);
    case Recompute::selective:
      return training_flops_per_token(m) +
             (fw.fused_attention ? 0 : 4.0 * m.layers * m.ctx * m.dim);
    case Recompute::full:
      return recompute_flops_per_token(m);
  }
  return 0;
}

}  // namespace

std::vector<double> stage_slowdowns(const Layout& l, const StepOptions& opt) {
  std::vector<double> scale(static_cast<size_t>(std::max(1, l.pp)), 1.0);
  const int per_stage = l.tp * l.dp;  // rank = tp_rank + tp·(dp_rank + dp·stage)
  for (const auto& [rank, factor] : opt.slowdowns)
    if (rank >= 0 && rank < l.devices()) {
      double& s = scale[static_cast<size_t>(rank / per_stage)];
      s = std::max(s, factor);
    }
  return scale;
}

double StepCost::comm_exposed_s() const {
  return (tensor_comm_s + p2p_s) * micro_batches + dp_exposed_s;
}

std::vector<ClassTime> StepCost::breakdown(const DeviceSpec& d) const {
  const double M = micro_batches;
  auto rate = [](const OpTime& o, double work, double peak) {
    return o.seconds > 0 && peak > 0 ? work / o.seconds / peak : 0;
  };
  const double opt_bytes = optimizer_s * d.stream_Bps();
  return {
      {"gemm", M * gemm.seconds, rate(gemm, gemm.flops, d.peak_flops), "peak FLOP/s"},
      {"attention", M * attention.seconds, rate(attention, attention.flops, d.peak_flops),
       "peak FLOP/s"},
      {"elementwise", M * elementwise.seconds,
       rate(elementwise, elementwise.bytes, d.memory_Bps), "memory bandwidth"},
      {"tensor_comm", M * tensor_comm_s, 0, ""},
      {"pipeline_comm", M * p2p_s, 0, ""},
      {"bubble", bubble_s, 0, ""},
      {"dp_comm_exposed", dp_exposed_s, 0, ""},
      {"optimizer", optimizer_s, optimizer_s > 0 ? opt_bytes / optimizer_s / d.memory_Bps : 0,
       "memory bandwidth"},
  };
}

Topology tensor_topology(const ClusterSpec& c, const Layout& l) {
  Topology t;
  t.world = l.tp;
  t.ranks_per_node = std::min(l.tp, c.devices_per_node);
  t.intra = c.intra;
  t.inter = c.inter;
  return t;
}

Topology data_topology(const ClusterSpec& c, const Layout& l) {
  Topology t;
  t.world = l.dp;
  t.ranks_per_node = std::clamp(c.devices_per_node / l.tp, 1, l.dp);
  t.intra = c.intra;
  t.inter = c.inter;
  t.servers = l.servers;
  return t;
}

const LinkSpec& stage_link(const ClusterSpec& c, const Layout& l) {
  return l.tp * l.dp < c.devices_per_node ? c.intra : c.inter;
}

StepCost step_cost(const ModelSpec& m, const ClusterSpec& c, const Layout& l,
                   const StepOptions& opt) {
  StepCost s;
  pipeline_costs(m, c, l, opt, s);
  Layout staged = l;
  staged.stages = s.stages;
  data_parallel_costs(m, c, staged, opt, s);
  const double zero = opt.framework.zero_stage >= 1 ? l.dp : 1;
  s.optimizer_s = max_stage_params(m, staged) / zero * 28 / c.device.stream_Bps();
  s.step_s = s.pipeline_s + s.dp_exposed_s + s.optimizer_s;
  s.tokens = static_cast<double>(m.batch) * m.ctx;
  s.model_flops = s.tokens * training_flops_per_token(m);
  s.hardware_flops = s.tokens * executed_flops_per_token(m, l, opt.framework);
  s.mfu = s.model_flops / (s.step_s * l.devices() * c.device.peak_flops);
  s.memory = device_memory(m, c.format, staged, opt.framework);
  return s;
}

double single_device_seconds(const ModelSpec& m, const DeviceSpec& d, double tokens) {
  return training_flops(m, tokens) / d.sustained_flops();
}

}  // namespace plait::plan
