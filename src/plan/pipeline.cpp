#include "plan/pipeline.h"

#include <algorithm>

namespace plait::plan {

double bubble_fraction(int stages, int micro_batches) {
  if (stages <= 1) return 0;
  return static_cast<double>(stages - 1) / (micro_batches + stages - 1);
}

int in_flight_micro_batches(Schedule s, int stages, int micro_batches, int stage) {
  if (s == Schedule::gpipe) return micro_batches;
  return std::max(1, std::min(stages - stage, micro_batches));
}

}  // namespace plait::plan
