// What a training run reads: the training and validation tokens and the tokenizer
// that made them, from text files, a prepared dataset directory (prepared.h) or
// nanoGPT's train.bin/val.bin (docs/DATA.md).
//
//   --data FILES          text, tokenized here (in parallel; bytes: read as they are)
//   --data DIR            a prepared dataset (index.json) or a nanoGPT directory,
//                         read in place (pread of the sequences needed)
//   --val-data FILES|DIR  the validation set; nothing of it is trained on. Without
//                         it: a prepared dataset's own validation split, or for text
//                         the last 10% of the tokens (corpus.h's rule).
//
// Every problem is a UsageError naming the file: unreadable or empty files, a split
// shorter than one sequence (ctx+1 tokens), a shard whose checksum fails, tokens
// outside the vocabulary, a tokenizer that does not match the dataset's.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "data/tokenizer.h"
#include "data/tokens.h"

namespace plait::data {

struct DataOptions {
  std::vector<std::string> data;      // text files or one directory; empty: fortunes
  std::vector<std::string> val_data;  // text files or one directory; empty: a split
  std::string tokenizer;              // spec; "": the dataset's own, else bytes
  std::string dtype = "uint16";       // a nanoGPT directory's token type
  int ctx = 128;
  int threads = 0;                    // tokenizing threads (0: hardware threads)
};

struct Dataset {
  Tokens train, val;
  std::shared_ptr<const Tokenizer> tokenizer;
  std::string name;      // for messages: "'a.txt'", "prepared dataset 'dir'"
  std::string val_name;  // the validation set's
  std::string hash;      // 16 hex digits identifying the tokens (resume checks it)
};

Dataset load_dataset(const DataOptions& opt);

// The bytes corpus as a Dataset (its 90/10 split), sharing nothing with `c` after.
Dataset dataset_from_corpus(Corpus c);

// Tokens of text files or a directory with the given tokenizer (for `eval` and
// --val-data): a directory gives its validation split if it has one, else all.
Tokens load_eval_tokens(const std::vector<std::string>& data, const Tokenizer& tok,
                        const std::string& dtype, std::string& name);

}  // namespace plait::data
