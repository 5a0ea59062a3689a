#include "data/tokenizer.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/gpt2_bpe.h"
#include "data/spm_tokenizer.h"
#include "util/error.h"
#include "util/files.h"
#include "util/machine.h"
#include "util/hash.h"

namespace plait::data {
namespace stdfs = std::filesystem;

std::string Tokenizer::fingerprint() const {
  Xxh64 h;
  const std::string t = type();
  h.update(t.data(), t.size() + 1);  // with its NUL, so "gpt2"+"x" != "gpt"+"2x"
  for (const auto& [name, contents] : files()) {
    h.update(name.data(), name.size() + 1);
    const uint64_t n = contents.size();
    h.update(&n, sizeof n);
    h.update(contents.data(), contents.size());
  }
  return hex64(h.digest());
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& spec) {
  if (spec.empty() || spec == "bytes") return std::make_unique<ByteTokenizer>();
  const auto colon = spec.find(':');
  const std::string type = spec.substr(0, colon);
  const std::string arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if ((type == "gpt2" || type == "spm") && arg.empty())
    throw UsageError("--tokenizer '" + spec + "': " + type + " needs a path (" + type +
                     (type == "gpt2" ? ":DIR holding encoder.json and vocab.bpe)"
                                     : ":FILE, a SentencePiece .model)"));
  if (type == "gpt2") return load_gpt2(arg);
  if (type == "spm") return load_spm(arg);
  throw UsageError("--tokenizer '" + spec + "': unknown tokenizer (bytes, gpt2:DIR or spm:FILE)");
}

std::unique_ptr<Tokenizer> load_tokenizer_from_dir(const std::string& type,
                                                   const std::string& dir) {
  if (type == "bytes") return std::make_unique<ByteTokenizer>();
  if (type == "gpt2") return load_gpt2(dir);
  if (type == "spm") return load_spm((stdfs::path(dir) / kSpmFileName).string());
  throw UsageError("tokenizer in '" + dir + "': unknown type '" + type + "'");
}

void write_tokenizer_files(const Tokenizer& tok, const std::string& dir) {
  stdfs::create_directories(dir);
  for (const auto& [name, contents] : tok.files()) {
    const stdfs::path p = stdfs::path(dir) / name;
    std::ofstream f(p, std::ios::binary);
    f.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    f.close();
    if (!f) throw RuntimeError("cannot write tokenizer file '" + p.string() + "'");
  }
}

std::string read_text_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!stdfs::exists(path, ec))
    throw UsageError(what + " '" + path + "' does not exist");
  if (stdfs::is_directory(path, ec))
    throw UsageError(what + " '" + path + "' is a directory, not a file");
  const RegularFile f(path, what, UINT64_MAX);  // no FIFO, device or socket
  require_memory(static_cast<double>(f.size()),
                 what + " '" + path + "' (" + std::to_string(f.size()) + " bytes)");
  return f.read_all();
}

// ---- bytes ---------------------------------------------------------------------

std::vector<int32_t> ByteTokenizer::encode(std::string_view text) const {
  return data::encode(text);
}

std::string ByteTokenizer::decode(std::span<const int32_t> ids) const {
  return data::decode(ids);
}

std::vector<int32_t> encode(std::string_view text) {
  std::vector<int32_t> tokens(text.size());
  for (size_t i = 0; i < text.size(); ++i)
    tokens[i] = static_cast<unsigned char>(text[i]);  // 0..255, never negative
  return tokens;
}

static void check_token(int32_t token, size_t position) {
  if (token < 0 || token >= kVocab)
    throw UsageError("token " + std::to_string(token) + " at position " + std::to_string(position) +
                     " is not a byte (vocabulary is 0..255)");
}

char decode_one(int32_t token) {
  check_token(token, 0);
  return static_cast<char>(static_cast<unsigned char>(token));
}

std::string decode(std::span<const int32_t> tokens) {
  std::string text(tokens.size(), '\0');
  for (size_t i = 0; i < tokens.size(); ++i) {
    check_token(tokens[i], i);
    text[i] = static_cast<char>(static_cast<unsigned char>(tokens[i]));
  }
  return text;
}

}  // namespace plait::data
