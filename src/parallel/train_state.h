// Saving and restoring a training run's whole state through checkpoints (fault/):
// parameters, AdamW moments, the step, and the fingerprint of the options that must
// match on resume (model, data, schedule, seed).
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "data/tokenizer.h"
#include "fault/checkpoint.h"
#include "model/adamw.h"
#include "model/gpt.h"
#include "parallel/train_options.h"

namespace plait {

// FNV-1a 64 of the corpus bytes, as hex: tells a resumed run it reads the same data.
std::string corpus_hash(std::span<const uint8_t> bytes);

// What every checkpoint of a run carries besides the tensors: the step, the model
// config, the options' fingerprint, the random state and the tokenizer.
CheckpointData run_checkpoint(int64_t step, const GPTConfig& config,
                              const nlohmann::json& fingerprint, const data::Tokenizer& tok);

// The state of a whole model after `step` steps as checkpoint data (the single-worker
// format), with the run's tokenizer; the tensors point into `model` and `adam` (no
// copies: save it, or snapshot it with fault/checkpoint_writer.h, before they change).
// `balance` (if not null): the balancer's state, kept in the manifest's extra.balance.
CheckpointData train_state_data(const nlohmann::json& fingerprint, int64_t step,
                                const GPT& model, const AdamW& adam,
                                const data::Tokenizer& tok, const nlohmann::json& balance = {});

// Commits the state of a whole model after `step` steps, with the run's tokenizer,
// into run_dir/step-NNNNNNNN (the single-worker format); returns its path.
// (A model-parallel rank's: parallel/mesh_state.h.) `balance` (if not null): the
// balancer's state (docs/BALANCE.md), kept in the manifest's extra.balance.
std::string save_train_state(const std::string& run_dir, const nlohmann::json& fingerprint,
                             int64_t step, const GPT& model, const AdamW& adam, int keep_last,
                             const data::Tokenizer& tok, const nlohmann::json& balance = {});

// Loads the latest checkpoint of run_dir into model and adam, whatever their layout:
// every tensor box the model's rank holds (model/shard_table.h), from a checkpoint made
// by any layout. Returns its step. Throws UsageError when there is none, it is damaged,
// or its fingerprint differs from `fingerprint` (naming the first differing option).
// `extra` (if given): the manifest's extra.
int64_t load_train_state(const std::string& run_dir, const nlohmann::json& fingerprint,
                         GPT& model, AdamW& adam, nlohmann::json* extra = nullptr);
// Its two halves, for a caller that holds the opened checkpoint: the checks (the
// fingerprint, the model's config; UsageError), then the read (returns the step).
void check_train_state(const LoadedCheckpoint& ck, const nlohmann::json& fingerprint,
                       const GPT& model);
int64_t read_train_state(const LoadedCheckpoint& ck, GPT& model, AdamW& adam,
                         nlohmann::json* extra = nullptr);

// --on-nonfinite rollback: load_train_state of the newest committed checkpoint of
// run_dir, on every rank of any layout; RuntimeError (a failure of the run, not of its
// input) when there is none yet.
int64_t rollback_state(const std::string& run_dir, const nlohmann::json& fingerprint,
                       GPT& model, AdamW& adam, nlohmann::json* extra);

// The state a run starts from, for a model of any layout: the latest checkpoint
// (--resume; UsageError when the run is already over), the weights of --init-from (a
// new run from given weights, fresh optimizer), or GPT-2's initialisation from the
// seed. Returns the step to start at; `extra` (if given): a resumed checkpoint's extra.
int64_t start_state(const TrainOptions& opt, const nlohmann::json& fingerprint, GPT& model,
                    AdamW& adam, nlohmann::json* extra = nullptr);

// Whether `run_dir` holds a committed checkpoint (fault/checkpoint.h's latest_checkpoint).
bool has_disk_checkpoint(const std::string& run_dir);

// UsageError naming the first option of `want` that the checkpoint was not made with.
void check_fingerprint(const LoadedCheckpoint& ck, const nlohmann::json& want);

// Loads only the weights and config, for sample / eval: a run or checkpoint directory,
// or a Hugging Face / nanoGPT / plait safetensors file (fault/weights.h).
GPT load_model(const std::string& path);

}  // namespace plait
