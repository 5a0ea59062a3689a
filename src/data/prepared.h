// Prepared token datasets (`plait prepare`): text tokenized once into binary shards
// plus a small JSON index, read in place by `train --data DIR` (tokens.h).
//
//   DIR/index.json          format, dtype, tokenizer, per split: shards (file, tokens,
//                           XXH64 of the file), documents (source file, first token,
//                           tokens)
//   DIR/train-00000.bin     little-endian uint16 (vocabulary <= 65536) or uint32 tokens
//   DIR/val-00000.bin       the validation split (a split by chunks of documents made
//                           here, or --val-data's files)
//   DIR/tokenizer/          the tokenizer's files (tokenizer.h), so DIR is self-contained
//
// nanoGPT's layout (DIR/train.bin and optionally DIR/val.bin, no index) is read too,
// with the dtype given (nanoGPT writes uint16) and the tokenizer named by the user.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "data/tokens.h"

namespace plait::data {

inline constexpr const char* kIndexFile = "index.json";
inline constexpr const char* kPreparedFormat = "plait-tokens";

struct PrepareOptions {
  std::vector<std::string> files;      // text
  std::string tokenizer = "bytes";     // spec
  std::string out;                     // the directory written
  double val_fraction = 0.005;         // share of the text (by bytes, whole chunks)
  std::vector<std::string> val_files;  // instead of val_fraction
  int threads = 0;                     // 0: hardware threads
  int64_t shard_tokens = int64_t{1} << 28;  // tokens per shard file at most
  size_t chunk_bytes = size_t{1} << 20;     // text per tokenizing task (text_chunks.h)
  bool progress = true;                // a progress line on stderr
};

struct PrepareSummary {
  int64_t train_tokens = 0, val_tokens = 0;
  uint64_t text_bytes = 0;
  double seconds = 0;
  int threads = 0;
  std::string dtype;
};

// Tokenizes and writes the dataset; UsageError for bad input (naming the file).
PrepareSummary prepare_dataset(const PrepareOptions& opt);

// Whether `dir` is a prepared dataset (index.json) or a nanoGPT one (train.bin).
bool is_token_dir(const std::string& dir);

struct TokenDir {
  Tokens train, val;  // val may be empty (nanoGPT without val.bin)
  std::shared_ptr<const Tokenizer> tokenizer;
  std::string hash;   // identity of the tokens
  std::string name;   // "prepared dataset 'dir'"
};

// Opens a token directory: verifies every shard (size, XXH64 when the index has it,
// every token below the vocabulary) by reading it once, then opens it for reads. `tok` is the
// tokenizer asked for (null: the dataset's own; a nanoGPT directory needs one).
TokenDir open_token_dir(const std::string& dir, std::shared_ptr<const Tokenizer> tok,
                        const std::string& dtype);

// A prepared dataset's own tokenizer (read from DIR/tokenizer without verifying the
// shards); null for a nanoGPT directory, which has none.
std::shared_ptr<const Tokenizer> token_dir_tokenizer(const std::string& dir);

// "uint16" -> 2, "uint32" -> 4; UsageError otherwise.
int dtype_width(const std::string& dtype);
// The narrowest stored type for a vocabulary: uint16 when it fits, else uint32.
std::string dtype_for_vocab(int vocab);

}  // namespace plait::data
