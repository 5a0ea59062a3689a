// Checkpoints of a model-parallel rank (fault/checkpoint.h's sharded format): every
// rank writes the boxes it OWNS (model/shard_table.h) of the parameters and AdamW
// moments under the full tensors' nanoGPT names, and reads back whatever boxes its
// own layout needs. A checkpoint made by any layout (one worker included) therefore
// loads under any other.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "data/tokenizer.h"
#include "fault/checkpoint.h"
#include "model/adamw.h"
#include "parallel/pipeline_stage.h"

namespace plait {

// Collective over the writer's world: every rank calls it for the same step. Only
// ranks with `writes` (one data-parallel replica) contribute tensors.
std::string save_stage_state(const std::string& run_dir, const nlohmann::json& fingerprint,
                             int64_t step, const PipelineStage& stage, const AdamW& adam,
                             int keep_last, const ShardWriter& writer, bool writes,
                             const data::Tokenizer& tok);

// Loads this rank's boxes of the latest checkpoint of run_dir; returns its step.
// UsageError when there is none, it is damaged, or it was made for other options.
int64_t load_stage_state(const std::string& run_dir, const nlohmann::json& fingerprint,
                         PipelineStage& stage, AdamW& adam);

// The initial weights: the single-worker initialisation from `seed`, sliced.
void init_stage_weights(PipelineStage& stage, uint64_t seed);

}  // namespace plait
