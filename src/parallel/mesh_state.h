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

// What a rank contributes to a checkpoint of the state after `step` steps: only ranks
// with `writes` (one data-parallel replica) contribute tensors, views of `model` and
// `adam` (no copies: save them, or snapshot them with fault/checkpoint_writer.h, before
// they change). `balance` (if not null): the replicas' balancer state
// (docs/BALANCE.md), kept in the manifest's extra.balance. save_checkpoint with a
// ShardWriter over every rank of the mesh commits it (a collective).
CheckpointData stage_state_data(const nlohmann::json& fingerprint, int64_t step,
                                const GPT& model, const AdamW& adam, bool writes,
                                const data::Tokenizer& tok, const nlohmann::json& balance);

}  // namespace plait
