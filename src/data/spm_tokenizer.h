// SentencePiece tokenizers (Kudo & Richardson 2018) through Debian's
// libsentencepiece: `spm:FILE` loads a .model file; train_spm() trains one on the
// user's corpus (`plait tokenizer train`).
//
// Models trained here round-trip any UTF-8 text exactly (decode(encode(x)) == x):
// identity normalisation, whitespace kept as is, and byte fallback for characters
// outside the vocabulary. Models trained elsewhere may normalise (NFKC) and so not
// round-trip; their ids are still exactly SentencePiece's.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace plait::data {

// A checkpoint's or prepared dataset's copy of the model is stored under this name.
inline constexpr const char* kSpmFileName = "tokenizer.model";

class SpmTokenizer final : public Tokenizer {
 public:
  // From a serialized ModelProto (a .model file's bytes); `where` names it in errors.
  SpmTokenizer(std::string model_proto, const std::string& where);
  ~SpmTokenizer() override;

  std::string type() const override { return "spm"; }
  int vocab_size() const override;
  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  std::map<std::string, std::string> files() const override;

 private:
  std::string proto_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
};

std::unique_ptr<Tokenizer> load_spm(const std::string& file);

struct SpmTrainOptions {
  std::vector<std::string> files;  // training text (read line by line)
  int vocab = 8192;
  std::string type = "bpe";        // "bpe" | "unigram"
  std::string out;                 // the .model file written
  int64_t max_sentences = 2000000; // lines sampled for training (0: all)
  int threads = 0;                 // 0: hardware threads
};

// Trains a model and writes it to opt.out. UsageError for bad options or input
// (naming the file or the flag), RuntimeError when SentencePiece fails otherwise.
void train_spm(const SpmTrainOptions& opt);

}  // namespace plait::data
