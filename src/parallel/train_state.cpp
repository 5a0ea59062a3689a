#include "parallel/train_state.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>

#include "fault/checkpoint.h"
#include "fault/heartbeat.h"
#include "fault/memory_snapshot.h"
#include "fault/hash.h"
#include "fault/weights.h"
#include "parallel/checkpoint_tokenizer.h"
#include "parallel/footprint.h"
#include "parallel/run_loop.h"
#include "util/error.h"
#include "util/machine.h"

namespace plait {
namespace {

std::vector<NamedTensor> named(const ParamTable& t, std::span<const float> arena) {
  std::vector<NamedTensor> out;
  out.reserve(t.specs().size());
  for (const auto& s : t.specs())
    out.push_back({s.name, s.shape, arena.subspan(s.offset, s.size), {}, {}});
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
      const size_t n = b.size();
      ck.read_slice(name, b.begin, b.end, arena.subspan(at, n));
      at += n;
    }
  }
}

}  // namespace

void check_fingerprint(const LoadedCheckpoint& ck, const nlohmann::json& want) {
  const auto& have = ck.options();
  for (const auto& [key, value] : want.items()) {
    if (!have.contains(key) || have.at(key) != value)
      throw UsageError("--resume: checkpoint " + ck.dir().string() + " was made with " + key +
                       "=" + (have.contains(key) ? have.at(key).dump() : "(unset)") +
                       " but this run has " + key + "=" + value.dump());
  }
}

std::string corpus_hash(std::span<const uint8_t> bytes) {
  return hex64(xxh64(std::as_bytes(bytes)));
}

CheckpointData run_checkpoint(int64_t step, const GPTConfig& config,
                              const nlohmann::json& fingerprint, const data::Tokenizer& tok) {
  CheckpointData d;
  d.step = step;
  d.config = config.to_json();
  d.options = fingerprint;
  // Batches come from (seed, step) alone and nothing else draws random numbers while
  // training, so the seed and the step are the whole random state.
  d.rng = {{"sampler", "stateless: hash(seed, step, sequence)"},
           {"seed", fingerprint.value("seed", 0)}};
  d.extra = {{"adamw_t", step}};
  attach_tokenizer(d, tok);
  return d;
}

CheckpointData train_state_data(const nlohmann::json& fingerprint, int64_t step,
                                const GPT& model, const AdamW& adam,
                                const data::Tokenizer& tok, const nlohmann::json& balance) {
  CheckpointData d = run_checkpoint(step, model.config(), fingerprint, tok);
  if (!balance.is_null()) d.extra["balance"] = balance;
  const ParamTable& t = model.table();
  d.model = named(t, model.params);
  d.opt_m = named(t, adam.m);
  d.opt_v = named(t, adam.v);
  return d;
}

std::string save_train_state(const std::string& run_dir, const nlohmann::json& fingerprint,
                             int64_t step, const GPT& model, const AdamW& adam, int keep_last,
                             const data::Tokenizer& tok, const nlohmann::json& balance) {
  const CheckpointData d = train_state_data(fingerprint, step, model, adam, tok, balance);
  return save_checkpoint(run_dir, d, keep_last).string();
}

void check_train_state(const LoadedCheckpoint& ck, const nlohmann::json& fingerprint,
                       const GPT& model) {
  check_fingerprint(ck, fingerprint);
  if (GPTConfig::from_json(ck.config()) != model.config())
    throw UsageError("--resume: checkpoint " + ck.dir().string() + " holds model " +
                     ck.config().dump() + ", not " + model.config().to_json().dump());
}

int64_t load_train_state(const std::string& run_dir, const nlohmann::json& fingerprint,
                         GPT& model, AdamW& adam, nlohmann::json* extra) {
  const LoadedCheckpoint ck = load_checkpoint(run_dir);
  check_train_state(ck, fingerprint, model);
  return read_train_state(ck, model, adam, extra);
}

int64_t read_train_state(const LoadedCheckpoint& ck, GPT& model, AdamW& adam,
                         nlohmann::json* extra) {
  read_boxes(ck, model.shards(), "", model.params);
  read_boxes(ck, model.shards(), "m.", adam.m);
  read_boxes(ck, model.shards(), "v.", adam.v);
  if (extra) *extra = ck.extra();
  return ck.step();
}

int64_t rollback_state(const std::string& run_dir, const nlohmann::json& fingerprint,
                       GPT& model, AdamW& adam, nlohmann::json* extra) {
  try {
    return load_train_state(run_dir, fingerprint, model, adam, extra);
  } catch (const UsageError& e) {
    throw RuntimeError(std::string("--on-nonfinite rollback: nothing to roll back to: ") + e.what());
  }
}

namespace {

// --resume: from the memory snapshot when it is newer than the disk's newest checkpoint
// and loads (sizes, checksums, fingerprint all verified), else from the disk. With
// memory snapshots on, rank 0 says which and how long the restore took.
int64_t resume_state(const TrainOptions& opt, const nlohmann::json& fingerprint, GPT& model,
                     AdamW& adam, nlohmann::json* extra) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool say = opt.memory_snapshot_every > 0 && fault::Heartbeats::current_rank() <= 0;
  auto report = [&](const std::string& dir, int64_t step, const char* from) {
    if (!say) return;
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "resumed from step %lld %s (%s) in %.1f ms\n",
                 static_cast<long long>(step), from, dir.c_str(), ms);
  };
  if (fault::latest_step(opt.memory_snapshot_dir) > fault::latest_step(opt.checkpoint_dir)) {
    try {
      const int64_t step = load_train_state(opt.memory_snapshot_dir, fingerprint, model, adam, extra);
      report(opt.memory_snapshot_dir, step, "in the memory snapshot");
      return step;
    } catch (const std::exception& e) {
      if (say)
        std::fprintf(stderr, "the memory snapshot is unusable (%s); resuming from the disk\n",
                     e.what());
    }
  }
  const int64_t step = load_train_state(opt.checkpoint_dir, fingerprint, model, adam, extra);
  report(opt.checkpoint_dir, step, "on disk");
  return step;
}

}  // namespace

bool has_disk_checkpoint(const std::string& run_dir) {
  try {
    latest_checkpoint(run_dir);
    return true;
  } catch (const UsageError&) {
    return false;
  }
}

int64_t start_state(const TrainOptions& opt, const nlohmann::json& fingerprint, GPT& model,
                    AdamW& adam, nlohmann::json* extra) {
  // --resume auto under a supervisor with memory snapshots resumes even when this node
  // has nothing (a peer might: peer_snapshot.h); with nothing anywhere it starts anew
  const bool nothing = !opt.memory_snapshot_dir.empty() &&
                       fault::latest_step(opt.memory_snapshot_dir) < 0 &&
                       fault::latest_step(opt.memory_snapshot_dir + "/peer") < 0 &&
                       !has_disk_checkpoint(opt.checkpoint_dir);
  if (opt.resume && !nothing) {
    const int64_t step = resume_state(opt, fingerprint, model, adam, extra);
    check_resumable(opt, step);
    return step;
  }
  if (!opt.init_from.empty())  // a new run from given weights (fine-tuning)
    read_weights(WeightSource::open(opt.init_from), model.shards(), model.params);
  else
    model.init_weights(opt.seed);
  return 0;
}

GPT load_model(const std::string& path) {
  const WeightSource src = WeightSource::open(path);
  require_memory(inference_bytes(src.config(), 1, src.config().ctx),
                 "the model of '" + src.where().string() + "'");
  GPT model(src.config());
  read_weights(src, model.table(), model.params);
  return model;
}

}  // namespace plait
