#include "parallel/mesh_state.h"

#include <nlohmann/json.hpp>

#include "parallel/train_state.h"

namespace plait {
namespace {

// The owned boxes of `arena` as checkpoint tensors (views, no copies).
std::vector<NamedTensor> owned_boxes(const ShardTable& t, std::span<const float> arena) {
  std::vector<NamedTensor> out;
  for (const ShardSpec& s : t.specs()) {
    if (!s.owner) continue;
    size_t at = s.local.offset;
    for (const Box& b : s.boxes) {
      out.push_back({s.local.name, b.shape(), arena.subspan(at, b.size()), s.full_shape, b.begin});
      at += b.size();
    }
  }
  return out;
}

}  // namespace

CheckpointData stage_state_data(const nlohmann::json& fingerprint, int64_t step,
                                const GPT& model, const AdamW& adam, bool writes,
                                const data::Tokenizer& tok, const nlohmann::json& balance) {
  CheckpointData d = run_checkpoint(step, model.config(), fingerprint, tok);
  if (!balance.is_null()) d.extra["balance"] = balance;
  if (writes) {
    d.model = owned_boxes(model.shards(), model.params);
    d.opt_m = owned_boxes(model.shards(), adam.m);
    d.opt_v = owned_boxes(model.shards(), adam.v);
  }
  return d;
}

}  // namespace plait
