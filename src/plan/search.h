// The search that refines the decision tree: every layout (dp, tp, pp, micro-batch
// size, sync method, recomputation) that can run the model's global batch on at most
// the cluster's N devices, costed by step_cost(), kept only when it fits in memory,
// ranked by time to train.
//
// Enumerated: tp among the divisors of the head count (and of the key/value heads) that
// divide a node or are whole nodes; pp among the divisors of the layer count and, with
// stages differing by a block, those that divide N/tp; dp among the divisors of the
// global batch and the largest dp with dp·tp·pp <= N (replicas then take ceil(B/dp) or
// floor(B/dp) sequences); micro-batch sizes b (options) dividing the busiest replica's
// ceil(B/dp), giving M = ceil(B/dp)/b; recomputation none, full, and selective where
// the framework offers it; all five sync methods when dp > 1 (ps with one server per
// node of the data-parallel group); 1F1B (GPipe has the same time and more memory).
// Stages are split by step_cost (the embedding and the head counted as stage work).
// Devices are left idle only when that is faster: every layout up to N is ranked, and
// the report names the best that uses all N when the recommendation does not.
// Rejected: out of memory (over the usable memory), bubble too large (idle fraction
// over max_bubble), link too slow (communication not hidden over max_comm_share of the
// step).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "plan/decision_tree.h"

namespace plait::plan {

struct Candidate {
  Layout layout;
  StepCost cost;
  double days = 0;  // to train on the options' tokens
};

// What became of one strategy family ("data+tensor", ...).
struct FamilyVerdict {
  std::string family;
  int tried = 0, fitting = 0, accepted = 0;
  std::optional<Candidate> best;  // fastest accepted
  double smallest_memory = 0;     // the least memory any tried layout needs
  std::string verdict;            // one line: why it lost or was rejected
};

struct PlanResult {
  Decision decision;
  std::vector<Candidate> ranked;      // accepted, fastest first: the best variant (micro-batch
                                      // size, sync, recomputation) of each dp x tp x pp mesh
  std::optional<size_t> recommended;  // into ranked: the fastest plan that fits (0), if any
  std::optional<size_t> best_on_all_devices;  // into ranked: the fastest using all N devices
  bool recommended_follows_tree = false;  // the rules of thumb alone lead to its strategy
  std::vector<FamilyVerdict> families;
};

PlanResult plan(const ModelSpec& m, const ClusterSpec& c, const PlanOptions& o);

// "dp4 tp8 pp32 b1 M384 recompute full"
std::string describe_layout(const Layout& l);

// Days to train `tokens` tokens at this step cost.
double days_to_train(const StepCost& s, double tokens);

}  // namespace plait::plan
