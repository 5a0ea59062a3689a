// Measures this machine for the simulator (plan/machine_profile.h says what and how).
// Lives in cli/ because it calls the BLAS and spawns threads; plan/ stays pure.
#pragma once
#include "plan/machine_profile.h"

namespace plait::cli {

// About 4 x `probe_s` seconds in all.
plan::MachineProfile measure_machine(double probe_s = 0.25);

}  // namespace plait::cli
