// Checkpoints of a model-parallel rank (fault/checkpoint.h's sharded format): every
// rank writes the boxes it OWNS (model/shard_table.h) of the parameters and AdamW
// moments under the full tensors' nanoGPT names. Loading reads back whatever boxes a
// rank's own layout needs (parallel/train_state.h's load_train_state, the same for
// every layout), so a checkpoint made by any layout (one worker included) loads under
// any other.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "data/tokenizer.h"
#include "fault/checkpoint.h"
#include "model/adamw.h"
#include "model/gpt.h"

namespace plait {

// Collective over the writer's world: every rank calls it for the same step. Only
// ranks with `writes` (one data-parallel replica) contribute tensors. `balance` (if not
// null): the replicas' balancer state (docs/BALANCE.md), kept in the manifest's
// extra.balance.
std::string save_stage_state(const std::string& run_dir, const nlohmann::json& fingerprint,
                             int64_t step, const GPT& model, const AdamW& adam,
                             int keep_last, const ShardWriter& writer, bool writes,
                             const data::Tokenizer& tok, const nlohmann::json& balance);

}  // namespace plait
