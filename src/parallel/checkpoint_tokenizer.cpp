#include "parallel/checkpoint_tokenizer.h"

#include <filesystem>

#include "data/spm_tokenizer.h"
#include "util/error.h"

namespace plait {

void attach_tokenizer(CheckpointData& d, const data::Tokenizer& tok) {
  d.tokenizer = {{"type", tok.type()},
                 {"vocab", tok.vocab_size()},
                 {"fingerprint", tok.fingerprint()},
                 {"dir", kTokenizerDir}};
  for (auto& [name, contents] : tok.files())
    d.attachments[std::string(kTokenizerDir) + "/" + name] = std::move(contents);
}

static nlohmann::json entry_of(const LoadedCheckpoint& ck) {
  nlohmann::json t = ck.tokenizer();
  if (t.is_null()) return {{"type", "bytes"}, {"vocab", data::kVocab}};
  if (!t.is_object() || !t.value("type", nlohmann::json()).is_string())
    throw UsageError("checkpoint '" + ck.dir().string() + "': 'tokenizer' in manifest.json has no type");
  return t;
}

std::unique_ptr<data::Tokenizer> checkpoint_tokenizer(const LoadedCheckpoint& ck) {
  const nlohmann::json t = entry_of(ck);
  const std::string type = t.at("type");
  const std::string dir = (ck.dir() / t.value("dir", std::string(kTokenizerDir))).string();
  auto tok = data::load_tokenizer_from_dir(type, dir);
  if (t.contains("fingerprint") && t.at("fingerprint") != tok->fingerprint())
    throw UsageError("checkpoint '" + ck.dir().string() + "': tokenizer files in '" + dir +
                     "' do not match the fingerprint in manifest.json");
  return tok;
}

std::string weights_tokenizer_spec(const WeightSource& src) {
  namespace stdfs = std::filesystem;
  if (src.checkpoint()) return checkpoint_tokenizer_spec(src.checkpoint()->dir().string());
  std::error_code ec;
  const stdfs::path dir = stdfs::is_directory(src.where(), ec) ? src.where() : src.where().parent_path();
  if (stdfs::exists(dir / "plait_tokenizer.json", ec)) {
    const auto j = nlohmann::json::parse(
        data::read_text_file((dir / "plait_tokenizer.json").string(), "tokenizer file"), nullptr, false);
    if (j.is_discarded() || !j.value("type", nlohmann::json()).is_string())
      throw UsageError("'" + (dir / "plait_tokenizer.json").string() + "' has no tokenizer type");
    const std::string type = j.at("type");
    if (type == "spm") return "spm:" + (dir / data::kSpmFileName).string();
    return type == "bytes" ? "bytes" : type + ":" + dir.string();
  }
  if (stdfs::exists(dir / "vocab.bpe", ec) || stdfs::exists(dir / "merges.txt", ec) ||
      stdfs::exists(dir / "tokenizer.json", ec))
    return "gpt2:" + dir.string();
  return "bytes";
}

std::unique_ptr<data::Tokenizer> weights_tokenizer(const WeightSource& src) {
  auto tok = data::load_tokenizer(weights_tokenizer_spec(src));
  if (tok->vocab_size() != src.config().vocab)
    throw UsageError("'" + src.where().string() + "': its vocabulary of " +
                     std::to_string(src.config().vocab) + " is not the " + tok->type() +
                     " tokenizer's " + std::to_string(tok->vocab_size()) +
                     " (put the tokenizer's files beside the weights)");
  return tok;
}

std::string checkpoint_tokenizer_spec(const std::string& path) {
  const LoadedCheckpoint ck = load_checkpoint(path);
  const nlohmann::json t = entry_of(ck);
  const std::string type = t.at("type");
  const std::string dir = (ck.dir() / t.value("dir", std::string(kTokenizerDir))).string();
  if (type == "bytes") return "bytes";
  if (type == "spm") return "spm:" + dir + "/" + data::kSpmFileName;
  return type + ":" + dir;
}

nlohmann::json write_checkpoint_tokenizer(const LoadedCheckpoint& ck, const std::string& out_dir) {
  const auto tok = checkpoint_tokenizer(ck);
  data::write_tokenizer_files(*tok, out_dir);
  return entry_of(ck);
}

}  // namespace plait
