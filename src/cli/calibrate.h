// Measures this machine for the simulator (plan/machine_profile.h says what and how).
// Lives in cli/ because it calls the BLAS and spawns threads; plan/ stays pure.
#pragma once
#include <string>
#include <vector>

#include "plan/machine_profile.h"

namespace plait::cli {

// About 8 x `probe_s` seconds in all.
plan::MachineProfile measure_machine(double probe_s = 0.25);

// `plait bench calibrate --check` (calibrate_check.cpp): measured against simulated
// steps for a fixed set of local layouts of one model.
struct CheckOptions {
  int layers = 4, dim = 128, heads = 4, ctx = 128, batch = 16;  // plait train's defaults
  int rounds = 3, warmup = 2, steps = 5;
  double probe_s = 0.1;
  std::vector<std::string> only;  // layout names; empty: all
  bool json = false;
};
int run_calibrate_check(const CheckOptions& o);

}  // namespace plait::cli
