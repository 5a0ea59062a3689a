// Pipeline schedules as the cost model sees them (Huang et al. 2019, GPipe;
// Narayanan et al. 2021, §2.2 for 1F1B).
//
// With P stages of equal time per micro-batch (t_f + t_b) and M micro-batches, both
// GPipe and 1F1B take (M + P - 1)(t_f + t_b): each stage idles P - 1 slots while the
// pipeline fills and drains, so the bubble fraction is (P-1)/(M+P-1). They differ in
// memory: GPipe keeps all M micro-batches' activations alive; 1F1B starts backward
// passes as soon as it can, so stage i (0-based) holds at most min(P - i, M).
#pragma once
#include "plan/layout.h"

namespace plait::plan {

// (P-1)/(M+P-1); 0 when P = 1.
double bubble_fraction(int stages, int micro_batches);

// Micro-batches whose activations stage `stage` keeps alive at the worst moment.
int in_flight_micro_batches(Schedule s, int stages, int micro_batches, int stage);

}  // namespace plait::plan
