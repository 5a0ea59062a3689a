#include "data/spm_tokenizer.h"

#include <filesystem>
#include <fstream>
#include <thread>
#include <unordered_map>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include "util/error.h"

namespace plait::data {

SpmTokenizer::SpmTokenizer(std::string model_proto, const std::string& where)
    : proto_(std::move(model_proto)), sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  const auto status = sp_->LoadFromSerializedProto(proto_);
  if (!status.ok())
    throw UsageError("tokenizer file '" + where + "' is not a SentencePiece model: " +
                     status.ToString());
}

SpmTokenizer::~SpmTokenizer() = default;

int SpmTokenizer::vocab_size() const { return sp_->GetPieceSize(); }

std::vector<int32_t> SpmTokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  const auto status = sp_->Encode(absl::string_view(text.data(), text.size()), &ids);
  if (!status.ok()) throw RuntimeError("SentencePiece encode: " + status.ToString());
  return std::vector<int32_t>(ids.begin(), ids.end());
}

std::string SpmTokenizer::decode(std::span<const int32_t> ids) const {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocab_size())
      throw UsageError("token " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                       " is outside the SentencePiece vocabulary (0.." +
                       std::to_string(vocab_size() - 1) + ")");
  std::string text;
  const auto status = sp_->Decode(std::vector<int>(ids.begin(), ids.end()), &text);
  if (!status.ok()) throw RuntimeError("SentencePiece decode: " + status.ToString());
  return text;
}

std::map<std::string, std::string> SpmTokenizer::files() const {
  return {{kSpmFileName, proto_}};
}

std::unique_ptr<Tokenizer> load_spm(const std::string& file) {
  return std::make_unique<SpmTokenizer>(read_text_file(file, "tokenizer file"), file);
}

void train_spm(const SpmTrainOptions& opt) {
  if (opt.files.empty()) throw UsageError("tokenizer train: --data needs at least one file");
  if (opt.type != "bpe" && opt.type != "unigram")
    throw UsageError("tokenizer train: --type must be bpe or unigram, got '" + opt.type + "'");
  if (opt.vocab < 300)
    throw UsageError("tokenizer train: --vocab must be at least 300 (256 byte pieces + "
                     "specials + merges), got " + std::to_string(opt.vocab));
  if (opt.out.empty()) throw UsageError("tokenizer train: --out is required");
  std::string input;
  for (const auto& f : opt.files) {
    read_text_file(f, "data file");  // exists, is a file, readable: named if not
    if (std::filesystem::file_size(f) == 0) throw UsageError("data file '" + f + "' is empty");
    if (f.find(',') != std::string::npos)
      throw UsageError("data file '" + f + "': SentencePiece cannot take a path with a comma");
    input += (input.empty() ? "" : ",") + f;
  }
  const int threads = opt.threads > 0 ? opt.threads
                                       : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::unordered_map<std::string, std::string> kw = {
      {"input", input},
      {"model_type", opt.type},
      {"vocab_size", std::to_string(opt.vocab)},
      {"character_coverage", "1.0"},
      {"byte_fallback", "true"},
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"split_digits", "true"},
      {"allow_whitespace_only_pieces", "true"},
      {"num_threads", std::to_string(threads)},
      {"minloglevel", "2"},  // errors come back in the status
  };
  if (opt.max_sentences > 0) {
    kw["input_sentence_size"] = std::to_string(opt.max_sentences);
    kw["shuffle_input_sentence"] = "true";
  }
  std::string proto;
  const auto status = sentencepiece::SentencePieceTrainer::Train(kw, nullptr, &proto);
  if (!status.ok()) throw UsageError("tokenizer train: SentencePiece: " + status.ToString());
  std::ofstream f(opt.out, std::ios::binary);
  f.write(proto.data(), static_cast<std::streamsize>(proto.size()));
  f.close();
  if (!f) throw RuntimeError("tokenizer train: cannot write '" + opt.out + "'");
}

}  // namespace plait::data
