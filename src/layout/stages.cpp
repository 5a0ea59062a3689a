#include "layout/stages.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "util/error.h"

namespace plait {

std::vector<int> balance_stages(int layers, int stages) {
  if (stages < 1 || layers < stages)
    throw UsageError("cannot split " + std::to_string(layers) + " layers into " +
                     std::to_string(stages) + " pipeline stages (need 1 <= stages <= layers)");
  // The remainder is < stages, so the last stage never gets an extra block.
  std::vector<int> sizes(stages, layers / stages);
  for (int i = 0; i < layers % stages; ++i) ++sizes[i];
  return sizes;
}

std::vector<int> balance_stages_weighted(int layers, const std::vector<double>& extra) {
  const int P = static_cast<int>(extra.size());
  balance_stages(layers, P);  // the same preconditions and message
  // The least capacity C (blocks + extra per stage) that holds every block: stage s
  // takes floor(C - extra[s]) blocks, at least one.
  auto caps = [&](double C) {
    std::vector<int> c(P);
    for (int s = 0; s < P; ++s)
      c[s] = std::max(1, static_cast<int>(std::floor(C - extra[s] + 1e-9)));
    return c;
  };
  auto holds = [&](double C) {
    long long sum = 0;
    for (int v : caps(C)) sum += v;
    return sum >= layers;
  };
  double lo = 0, hi = layers + *std::max_element(extra.begin(), extra.end()) + 1;
  for (int i = 0; i < 100; ++i) (holds((lo + hi) / 2) ? hi : lo) = (lo + hi) / 2;
  std::vector<int> sizes = caps(hi);
  long long surplus = -layers;
  for (int v : sizes) surplus += v;
  // Give back the surplus from the busiest stages, latest first among equals.
  for (; surplus > 0; --surplus) {
    int pick = -1;
    for (int s = P - 1; s >= 0; --s)
      if (sizes[s] > 1 && (pick < 0 || sizes[s] + extra[s] > sizes[pick] + extra[pick] + 1e-9))
        pick = s;
    --sizes[pick];
  }
  return sizes;
}

std::vector<int> stage_sizes(const std::vector<int>& given, int layers, int stages) {
  return given.empty() ? balance_stages(layers, stages) : given;
}

int first_block(const std::vector<int>& sizes, int s) {
  int begin = 0;
  for (int i = 0; i < s; ++i) begin += sizes[i];
  return begin;
}

void check_stages(const std::vector<int>& stages, int pp, int layers) {
  if (stages.empty()) return;
  if (static_cast<int>(stages.size()) != pp)
    throw UsageError("--stages lists " + std::to_string(stages.size()) + " stages but --pp is " +
                     std::to_string(pp));
  int sum = 0;
  for (int s : stages) {
    if (s <= 0)
      throw UsageError("--stages: every stage needs at least one block, got " +
                       std::to_string(s));
    sum += s;
  }
  if (sum != layers)
    throw UsageError("--stages sums to " + std::to_string(sum) + " blocks but the model has " +
                     std::to_string(layers) + " (--layers)");
}

void check_model_split(int layers, int dim, int heads, int tp, int pp,
                       const std::vector<int>& stages) {
  if (heads % tp != 0)
    throw UsageError("layout: --tp " + std::to_string(tp) + " does not divide --heads " +
                     std::to_string(heads) + " (attention is split by heads)");
  if ((4 * dim) % tp != 0)
    throw UsageError("layout: --tp " + std::to_string(tp) + " does not divide 4 x --dim = " +
                     std::to_string(4 * dim) + " (the MLP is split by columns)");
  if (layers < pp)
    throw UsageError("layout: --pp " + std::to_string(pp) + " stages but only " +
                     std::to_string(layers) + " blocks (each stage needs one)");
  check_stages(stages, pp, layers);
}

}  // namespace plait
