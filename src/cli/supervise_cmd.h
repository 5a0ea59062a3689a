// `plait train --max-restarts K` and `plait launch` (supervise_cmd.cpp).
#pragma once
#include "parallel/train_options.h"

namespace plait::cli {

// Whether this `plait train` supervises (K > 0 and not itself a supervised child).
bool supervising(const TrainOptions& opt);
// Supervises `plait train` (this process's own arguments) as a child; the exit code.
int supervise_train(const TrainOptions& opt);
// --memory-snapshot-every: the supervisor's snapshot directory into opt (from the
// environment); UsageError when there is no supervisor to own it.
void adopt_memory_snapshot(TrainOptions& opt);

}  // namespace plait::cli
