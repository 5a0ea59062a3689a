// The strategy decision, as a practitioner makes it, with its answers kept so the
// report can show them:
//
//   Does the model fit on one device?      (weights, gradients, optimizer state and
//                                            the activations of one sequence with
//                                            recomputation, within the usable memory)
//     no  -> model parallelism, and with a large dataset too: hybrid
//   Is the dataset large?                   (compute-only time on one device above a
//                                            threshold, 1 day by default)
//     yes -> data parallelism; no -> one device
//   How large is the cluster?               (nodes of the cluster)
//     small  (one node)      -> direct allreduce
//     medium (2 to 8 nodes)  -> ring allreduce
//     large  (more)          -> hierarchical allreduce
#pragma once
#include <string>

#include "plan/cluster_spec.h"
#include "plan/layout.h"
#include "plan/model_spec.h"
#include "plan/plan_options.h"

namespace plait::plan {

enum class Strategy { one_device, data, model, hybrid };
enum class ClusterSize { small, medium, large };
const char* to_string(Strategy s);
const char* to_string(ClusterSize s);

struct Decision {
  bool fits_one_device = false;
  MemoryEstimate one_device_memory;  // the smallest single-device footprint
  double usable_memory = 0;          // per device
  bool large_dataset = false;
  double single_device_s = 0;  // compute-only, memory ignored
  double large_after_s = 0;
  int nodes = 1;
  ClusterSize cluster_size = ClusterSize::small;
  // The rules of thumb's answers (decide()): the sync by cluster size, the strategy by
  // the two questions above.
  SyncAlgorithm rule_sync = SyncAlgorithm::direct;
  Strategy rule_strategy = Strategy::one_device;
  // The conclusion, which is the recommendation's (plan() sets them from the fastest
  // plan that fits; decide() alone leaves the rules' answers): where it departs from
  // the rules, the report says why.
  SyncAlgorithm sync = SyncAlgorithm::direct;
  Strategy strategy = Strategy::one_device;
};

Decision decide(const ModelSpec& m, const ClusterSpec& c, const PlanOptions& o);

// The strategy a layout belongs to.
Strategy strategy_of(const Layout& l);

// Whether a layout belongs to the strategy (one device; data only; tensor and/or
// pipeline without data; data with tensor and/or pipeline).
bool follows(Strategy s, const Layout& l);

}  // namespace plait::plan
