#include "parallel/mesh_state.h"

#include "parallel/checkpoint_tokenizer.h"

#include <nlohmann/json.hpp>

#include "model/gpt.h"
#include "parallel/train_state.h"
#include "util/error.h"

namespace plait {
namespace {

size_t numel(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

// The owned boxes of `arena` as checkpoint tensors (views, no copies).
std::vector<NamedTensor> owned_boxes(const ShardTable& t, std::span<const float> arena) {
  std::vector<NamedTensor> out;
  for (const ShardSpec& s : t.specs()) {
    if (!s.owner) continue;
    size_t at = s.local.offset;
    for (const Box& b : s.boxes) {
      const auto shape = b.shape();
      out.push_back({s.local.name, shape, arena.subspan(at, numel(shape)), s.full_shape, b.begin});
      at += numel(shape);
    }
  }
  return out;
}

// Every box this rank holds (owned or not) read from the checkpoint.
void read_boxes(const LoadedCheckpoint& ck, const ShardTable& t, const std::string& prefix,
                std::span<float> arena) {
  for (const ShardSpec& s : t.specs()) {
    const std::string name = prefix + s.local.name;
    if (ck.shape(name) != s.full_shape)
      throw UsageError("--resume: tensor '" + name + "' of " + ck.dir().string() +
                       " does not have the model's shape");
    size_t at = s.local.offset;
    for (const Box& b : s.boxes) {
      const size_t n = numel(b.shape());
      ck.read_slice(name, b.begin, b.end, arena.subspan(at, n));
      at += n;
    }
  }
}

}  // namespace

std::string save_stage_state(const std::string& run_dir, const nlohmann::json& fingerprint,
                             int64_t step, const PipelineStage& stage, const AdamW& adam,
                             int keep_last, const ShardWriter& writer, bool writes,
                             const data::Tokenizer& tok) {
  CheckpointData d;
  d.step = step;
  d.config = stage.table().config().to_json();
  d.options = fingerprint;
  d.rng = {{"sampler", "stateless: hash(seed, step, sequence)"},
           {"seed", fingerprint.value("seed", 0)}};
  d.extra = {{"adamw_t", step}};
  attach_tokenizer(d, tok);
  if (writes) {
    d.model = owned_boxes(stage.table(), stage.params);
    d.opt_m = owned_boxes(stage.table(), adam.m);
    d.opt_v = owned_boxes(stage.table(), adam.v);
  }
  return save_checkpoint(run_dir, d, keep_last, writer).string();
}

int64_t load_stage_state(const std::string& run_dir, const nlohmann::json& fingerprint,
                         PipelineStage& stage, AdamW& adam) {
  const LoadedCheckpoint ck = load_checkpoint(run_dir);
  check_fingerprint(ck, fingerprint);
  const GPTConfig& cfg = stage.table().config();
  if (GPTConfig::from_json(ck.config()) != cfg)
    throw UsageError("--resume: checkpoint " + ck.dir().string() + " holds model " +
                     ck.config().dump() + ", not " + cfg.to_json().dump());
  read_boxes(ck, stage.table(), "", stage.params);
  read_boxes(ck, stage.table(), "m.", adam.m);
  read_boxes(ck, stage.table(), "v.", adam.v);
  return ck.step();
}

void init_stage_weights(PipelineStage& stage, uint64_t seed) {
  // The single-worker initialisation draws every tensor from one stream in table
  // order, so each rank draws the whole model once and keeps its slices.
  GPT full(stage.table().config());
  full.init_weights(seed);
  gather_shard(full.table(), full.params, stage.table(), stage.params);
}

}  // namespace plait
