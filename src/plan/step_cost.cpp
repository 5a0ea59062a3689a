#include "plan/step_cost.h"

#include <algorithm>

#include "plan/flops.h"
#include "layout/schedule.h"

namespace plait::plan {
namespace {

// Compute time of one pass of one layer over `tokens` tokens on one device: the
// matrix products at the sustained rate, or streaming the weights (and, backward, the
// gradients they accumulate into) if that takes longer (a roofline); then the
// elementwise kernels. Backward does twice the forward's work.
double layer_pass_compute(const ModelSpec& m, const ClusterSpec& c, const Layout& l, double tokens,
                          bool backward) {
  const DeviceSpec& d = c.device;
  const FormatBytes fb = format_bytes(c.format);
  const double h = m.dim, work = backward ? 2 : 1;
  const double flops = work * tokens *
                       layer_forward_flops_per_token(m, attention_work_fraction(c.format, m.ctx)) /
                       l.tp;
  const double weights = (12 * h * h + 9 * h) / l.tp;
  const double weight_bytes = weights * (backward ? fb.weight + 2 * fb.grad : fb.weight);
  const double traffic = work * tokens * activation_bytes_per_token(m, c.format, l.tp, false);
  const double gelu = work * tokens * 4 * h / l.tp;
  double t = std::max(flops / d.sustained_flops(), weight_bytes / d.memory_Bps);
  t += traffic / d.memory_Bps;
  if (d.gelu_per_s > 0) t += gelu / d.gelu_per_s;
  return t;
}

// Forward + backward of the LM head and the loss over `tokens` tokens (vocab split by tp).
double head_compute(const ModelSpec& m, const ClusterSpec& c, const Layout& l, double tokens) {
  const double flops = 3 * tokens * head_forward_flops_per_token(m) / l.tp;
  const double traffic = 3 * tokens * 2.0 * m.vocab / l.tp * 4;  // logits, probs in fp32
  return flops / c.device.sustained_flops() + traffic / c.device.memory_Bps;
}

// Fills the per-micro-batch fields of `s` for the busiest stage.
void micro_batch_costs(const ModelSpec& m, const ClusterSpec& c, const Layout& l, StepCost& s) {
  const double tokens = static_cast<double>(l.micro_batch) * m.ctx;
  const double act_msg = tokens * m.dim * format_bytes(c.format).element;
  const double tp_allreduce =
      allreduce_cost(SyncAlgorithm::ring, tensor_topology(c, l), act_msg).seconds;
  const int layers = stage_layers(m, l.pp, 0);
  const double f = layer_pass_compute(m, c, l, tokens, false);
  const double head = head_compute(m, c, l, tokens);
  s.forward_s = layers * f + head / 3;
  s.backward_s = layers * layer_pass_compute(m, c, l, tokens, true) + head * 2 / 3;
  s.recompute_s = l.recompute ? layers * f : 0;
  s.tensor_comm_s = layers * (l.recompute ? 6 : 4) * tp_allreduce;
  s.p2p_s = l.pp > 1 ? 2 * stage_link(c, l).seconds(act_msg) : 0;
  s.micro_batch_s = s.forward_s + s.backward_s + s.recompute_s + s.tensor_comm_s + s.p2p_s;
}

// Exposed part of the data-parallel gradient allreduce.
void data_parallel_costs(const ModelSpec& m, const ClusterSpec& c, const Layout& l,
                         const StepOptions& opt, StepCost& s) {
  const double grad_bytes = stage_params(m, l, 0) * format_bytes(c.format).grad;
  const Topology topo = data_topology(c, l);
  s.dp_comm_s = allreduce_cost(l.sync, topo, grad_bytes).seconds;
  if (!opt.overlap) {
    s.dp_exposed_s = s.dp_comm_s;
    return;
  }
  const double window = s.backward_s + s.recompute_s;  // the last micro-batch's backward
  const double last_bucket =
      allreduce_cost(l.sync, topo, std::min(grad_bytes, opt.bucket_bytes)).seconds;
  s.dp_exposed_s = std::max(s.dp_comm_s - window, std::min(last_bucket, s.dp_comm_s));
}

}  // namespace

double StepCost::comm_exposed_s() const {
  return (tensor_comm_s + p2p_s) * micro_batches + dp_exposed_s;
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
  micro_batch_costs(m, c, l, s);
  const int slots = l.micro_batches + l.pp - 1;
  s.micro_batches = l.micro_batches;
  s.pipeline_s = slots * s.micro_batch_s;
  s.bubble_s = (l.pp - 1) * s.micro_batch_s;
  s.bubble_fraction = ideal_bubble(l.pp, l.micro_batches);
  data_parallel_costs(m, c, l, opt, s);
  s.optimizer_s = stage_params(m, l, 0) * 28 / c.device.memory_Bps;
  s.step_s = s.pipeline_s + s.dp_exposed_s + s.optimizer_s;
  s.tokens = static_cast<double>(m.batch) * m.ctx;
  s.model_flops = s.tokens * training_flops_per_token(m);
  s.hardware_flops =
      s.tokens * (l.recompute ? recompute_flops_per_token(m) : training_flops_per_token(m));
  s.mfu = s.model_flops / (s.step_s * l.devices() * c.device.peak_flops);
  s.memory = device_memory(m, c.format, l);
  return s;
}

double single_device_seconds(const ModelSpec& m, const DeviceSpec& d, double tokens) {
  return training_flops(m, tokens) / d.sustained_flops();
}

}  // namespace plait::plan
