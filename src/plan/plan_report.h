// `plait plan`'s output: the decision tree with its answers, the ranked table of
// feasible layouts, the recommendation, and one line per strategy family; as text for
// people and as JSON (--json) for programs. Both carry the same numbers.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "plan/search.h"

namespace plait::plan {

struct PlanReportInput {
  const ModelSpec& model;
  const ClusterSpec& cluster;
  const PlanOptions& options;
  const PlanResult& result;
  const ClusterSpec* baseline = nullptr;  // --baseline: one device of this cluster
  int top = 10;                           // rows of the ranked table
  bool explain = false;                   // --explain: the step's breakdown by class
};

std::string plan_text(const PlanReportInput& in);
nlohmann::json plan_json(const PlanReportInput& in);

}  // namespace plait::plan
