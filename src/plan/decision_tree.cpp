#include "plan/decision_tree.h"

namespace plait::plan {

const char* to_string(Strategy s) {
  switch (s) {
    case Strategy::one_device:
      return "one device";
    case Strategy::data:
      return "data parallelism";
    case Strategy::model:
      return "model parallelism";
    case Strategy::hybrid:
      return "hybrid (data x model parallelism)";
  }
  return "?";
}

const char* to_string(ClusterSize s) {
  switch (s) {
    case ClusterSize::small:
      return "small";
    case ClusterSize::medium:
      return "medium";
    case ClusterSize::large:
      return "large";
  }
  return "?";
}

Decision decide(const ModelSpec& m, const ClusterSpec& c, const PlanOptions& o) {
  Decision d;
  Layout smallest;  // one device, one sequence at a time, recomputing
  smallest.micro_batch = 1;
  smallest.micro_batches = m.batch;
  smallest.recompute = Recompute::full;
  d.one_device_memory = device_memory(m, c.format, smallest, o.step.framework);
  d.usable_memory = c.device.memory_bytes * o.memory_fraction;
  d.fits_one_device = d.one_device_memory.total() <= d.usable_memory;

  d.single_device_s = single_device_seconds(m, c.device, o.tokens);
  d.large_after_s = o.large_after_s;
  d.large_dataset = d.single_device_s > o.large_after_s;

  d.nodes = (o.devices + c.devices_per_node - 1) / c.devices_per_node;
  if (d.nodes <= 1) {
    d.cluster_size = ClusterSize::small, d.sync = SyncAlgorithm::direct;
  } else if (d.nodes <= 8) {
    d.cluster_size = ClusterSize::medium, d.sync = SyncAlgorithm::ring;
  } else {
    d.cluster_size = ClusterSize::large, d.sync = SyncAlgorithm::hierarchical;
  }

  if (d.fits_one_device)
    d.rule_strategy = d.large_dataset ? Strategy::data : Strategy::one_device;
  else
    d.rule_strategy = d.large_dataset ? Strategy::hybrid : Strategy::model;
  d.rule_sync = d.sync;
  d.strategy = d.rule_strategy;
  return d;
}

Strategy strategy_of(const Layout& l) {
  const bool model = l.tp > 1 || l.pp > 1;
  if (l.dp > 1) return model ? Strategy::hybrid : Strategy::data;
  return model ? Strategy::model : Strategy::one_device;
}

bool follows(Strategy s, const Layout& l) {
  const bool model = l.tp > 1 || l.pp > 1;
  switch (s) {
    case Strategy::one_device:
      return l.devices() == 1;
    case Strategy::data:
      return l.dp > 1 && !model;
    case Strategy::model:
      return l.dp == 1 && model;
    case Strategy::hybrid:
      return l.dp > 1 && model;
  }
  return false;
}

}  // namespace plait::plan
