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

namespace plait {

// FNV-1a 64 of the corpus bytes, as hex: tells a resumed run it reads the same data.
std::string corpus_hash(std::span<const uint8_t> bytes);

// Commits the state after `step` steps, with the run's tokenizer, into
// run_dir/step-NNNNNNNN; returns its path.
std::string save_train_state(const std::string& run_dir, const nlohmann::json& fingerprint,
                             int64_t step, const GPT& model, const AdamW& adam, int keep_last,
                             const data::Tokenizer& tok);

// Loads the latest checkpoint of run_dir into model and adam; returns its step.
// Throws UsageError when there is none, it is damaged, or its fingerprint differs
// from `fingerprint` (naming the first differing option).
int64_t load_train_state(const std::string& run_dir, const nlohmann::json& fingerprint,
                         GPT& model, AdamW& adam);

// UsageError naming the first option of `want` that the checkpoint was not made with.
void check_fingerprint(const LoadedCheckpoint& ck, const nlohmann::json& want);

// Loads only the weights and config, for sample / eval: a run or checkpoint directory,
// or a Hugging Face / nanoGPT / plait safetensors file (fault/weights.h).
GPT load_model(const std::string& path);

}  // namespace plait
