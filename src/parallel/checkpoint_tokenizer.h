// A run's tokenizer travels with its checkpoints (docs/CHECKPOINTS.md): the
// manifest's "tokenizer" names it, {"type": "gpt2", "vocab": 50257, "fingerprint":
// "<16 hex>", "dir": "tokenizer"}, and its defining files are attachments under
// CHECKPOINT/tokenizer/ (gpt2: encoder.json + vocab.bpe; spm: tokenizer.model;
// bytes: none). `sample`, `eval`, `train --resume` and `export` read it from there.
#pragma once
#include <memory>
#include <string>

#include "data/tokenizer.h"
#include "fault/checkpoint.h"
#include "fault/weights.h"

namespace plait {

inline constexpr const char* kTokenizerDir = "tokenizer";

// Records `tok` in the checkpoint to be saved (manifest entry and files).
void attach_tokenizer(CheckpointData& d, const data::Tokenizer& tok);

// The checkpoint's tokenizer (bytes when the manifest names none). UsageError naming
// the checkpoint when its files are missing or do not match the fingerprint.
std::unique_ptr<data::Tokenizer> checkpoint_tokenizer(const LoadedCheckpoint& ck);

// The tokenizer of any weights sample/eval take: a plait checkpoint's own; beside a
// weights file (its directory): plait_tokenizer.json from `plait export`, or GPT-2's
// encoder.json + vocab.bpe (or tokenizer.json); else bytes when the vocabulary is 256.
// UsageError naming the weights when none fits their vocabulary.
std::unique_ptr<data::Tokenizer> weights_tokenizer(const WeightSource& src);
// The spec weights_tokenizer loads (without the vocabulary check).
std::string weights_tokenizer_spec(const WeightSource& src);

// The spec that loads the tokenizer of the checkpoint `path` names (a run or a
// checkpoint directory): "bytes", "gpt2:CK/tokenizer" or "spm:CK/tokenizer/tokenizer.model".
std::string checkpoint_tokenizer_spec(const std::string& path);

// Writes the checkpoint's tokenizer files into `out_dir` (for exports next to the
// weights: encoder.json + vocab.bpe, or tokenizer.model; nothing for bytes) and
// returns the manifest's tokenizer entry ({"type": "bytes", ...} for bytes).
nlohmann::json write_checkpoint_tokenizer(const LoadedCheckpoint& ck, const std::string& out_dir);

}  // namespace plait
