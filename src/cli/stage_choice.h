// --stages auto and --stages profile: the fastest partition of the blocks within each
// stage's memory (docs/BALANCE.md, "Pipeline stages by cost").
//
// Costs: the cost model's or the profile's LM head on the last stage and each stage's
// --slowdown (cli/stage_profile.h). Memory: plait's own per-stage formula
// (plan::plait_stage_memory, what `plait simulate` predicts and train measures:
// weights, gradients, AdamW moments, the saved activations of the micro-batches in
// flight on that stage, workspace, pipeline buffers), linear in the stage's blocks.
// The limit: --stage-memory GiB, else (in-process workers) the memory available now
// divided by the workers, else (MPI, where the processes cannot see one another's
// memory and must all choose the same stages) none.
#pragma once
#include <string>

#include "cli/stage_profile.h"
#include "layout/stage_partition.h"
#include "parallel/train_options.h"
#include "plan/model_spec.h"

namespace plait {

// Per-stage costs and memory of opt's pipeline (opt.model.vocab resolved), the limit
// applied.
StageCosts stage_costs(const TrainOptions& opt, const plan::ModelSpec& m, const StageProfile& p);

struct StageChoice {
  StagePartition part;
  std::string line;  // "stages auto: 4,2 (cost model: ...; memory ...; docs/BALANCE.md)"
};

// The choice for opt; UsageError naming --stage-memory when no split fits.
StageChoice choose_stages(const TrainOptions& opt);

// --repartition-threshold's costs: the cost model's LM head on the last stage and each
// stage's memory and limit (the run measures the rest: parallel/stage_repartition.h).
StageCosts repartition_costs(const TrainOptions& opt);

}  // namespace plait
