// The one bridge between the runtime's model config (model/config.h) and the planner's
// (plan/model_spec.h): only the CLI sees both. Commands that count FLOPs of a model
// they run (bench train, simulate, calibrate --check) go through it, so the planner's
// formula (plan/flops.h) is the only FLOP count.
#pragma once
#include <string>

#include "model/config.h"
#include "parallel/train_options.h"
#include "plan/model_spec.h"
#include "plan/simulate.h"

namespace plait {

// The planner's spec of `c` trained on global batches of `batch` sequences; validated,
// errors naming `where`.
plan::ModelSpec model_spec_of(const GPTConfig& c, int batch, const std::string& name,
                              const std::string& where);

// The layout flags of a train command as the planner reads them (plan/simulate.h).
plan::RunFlags run_flags_of(const TrainOptions& o);

}  // namespace plait
