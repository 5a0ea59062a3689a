#include "data/gpt2_bpe.h"

#include <array>
#include <climits>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "data/gpt2_pretokenize.h"
#include "util/error.h"

namespace plait::data {
namespace {

using nlohmann::json;

// bytes_to_unicode(): printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand
// for themselves; the other 68 bytes take U+0100, U+0101, ... in byte order.
const std::array<int, 256>& byte_chars() {
  static const std::array<int, 256> table = [] {
    std::array<int, 256> t{};
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      t[b] = printable ? b : next++;
    }
    return t;
  }();
  return table;
}

// The inverse of byte_chars(): code point -> byte, -1 for code points no byte maps to.
int char_byte(uint32_t cp) {
  static const std::vector<int> inverse = [] {
    std::vector<int> inv(512, -1);
    for (int b = 0; b < 256; ++b) inv[byte_chars()[b]] = b;
    return inv;
  }();
  return cp < inverse.size() ? inverse[cp] : -1;
}

// A token as encoder.json spells it (UTF-8 of mapped characters) -> its raw bytes;
// false when a character is not one of bytes_to_unicode's.
bool token_to_bytes(const std::string& token, std::string& bytes) {
  bytes.clear();
  for (size_t i = 0; i < token.size();) {
    const auto c = static_cast<unsigned char>(token[i]);
    uint32_t cp;
    if (c < 0x80) cp = c, i += 1;
    else if ((c & 0xE0) == 0xC0 && i + 1 < token.size())
      cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(token[i + 1]) & 0x3Fu), i += 2;
    else return false;  // GPT-2's mapped characters are all below U+0800
    const int b = char_byte(cp);
    if (b < 0) return false;
    bytes.push_back(static_cast<char>(b));
  }
  return true;
}

std::string char_utf8(int cp) {
  std::string s;
  if (cp < 0x80) s.push_back(static_cast<char>(cp));
  else {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

}  // namespace

int gpt2_byte_char(int b) { return byte_chars().at(static_cast<size_t>(b)); }

Gpt2Tokenizer::Gpt2Tokenizer(const std::string& encoder_json, const std::string& vocab_bpe,
                             const std::string& where)
    : encoder_json_(encoder_json), vocab_bpe_(vocab_bpe) {
  const std::string enc_name = where + "/encoder.json", bpe_name = where + "/vocab.bpe";
  json enc = json::parse(encoder_json, nullptr, false);
  if (enc.is_discarded() || !enc.is_object() || enc.empty())
    throw UsageError("tokenizer file '" + enc_name + "' is not a JSON object of token ids");
  std::unordered_map<std::string, int32_t> ids;  // token as spelled -> id
  token_bytes_.assign(enc.size(), std::string());
  std::vector<bool> seen(enc.size(), false);
  std::string bytes;
  for (const auto& [token, v] : enc.items()) {
    const int64_t id = v.is_number_integer() ? v.get<int64_t>() : -1;
    if (id < 0 || id >= static_cast<int64_t>(enc.size()) || seen[id])
      throw UsageError("tokenizer file '" + enc_name + "': token " + json(token).dump() +
                       " has id " + v.dump() + " (ids must be distinct, 0.." +
                       std::to_string(enc.size() - 1) + ")");
    if (!token_to_bytes(token, bytes))
      throw UsageError("tokenizer file '" + enc_name + "': token " + json(token).dump() +
                       " is not spelled in GPT-2's byte characters");
    seen[id] = true;
    token_bytes_[id] = bytes;
    ids.emplace(token, static_cast<int32_t>(id));
  }
  for (int b = 0; b < 256; ++b) {
    auto it = ids.find(char_utf8(byte_chars()[b]));
    if (it == ids.end())
      throw UsageError("tokenizer file '" + enc_name + "' has no token for byte " +
                       std::to_string(b));
    byte_token_[b] = it->second;
  }
  // vocab.bpe: a "#version" line, then "A B" per line; rank = line order.
  size_t pos = 0, line_no = 0;
  int32_t rank = 0;
  while (pos < vocab_bpe.size()) {
    size_t end = vocab_bpe.find('\n', pos);
    if (end == std::string::npos) end = vocab_bpe.size();
    std::string line = vocab_bpe.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0)) continue;
    const size_t sp = line.find(' ');
    auto bad = [&](const std::string& why) {
      throw UsageError("tokenizer file '" + bpe_name + "' line " + std::to_string(line_no) +
                       ": " + why);
    };
    if (sp == std::string::npos || line.find(' ', sp + 1) != std::string::npos)
      bad("not a merge 'A B'");
    const std::string a = line.substr(0, sp), b = line.substr(sp + 1);
    auto ia = ids.find(a), ib = ids.find(b), iab = ids.find(a + b);
    if (ia == ids.end() || ib == ids.end() || iab == ids.end())
      bad("merge '" + line + "' uses a token missing from encoder.json");
    merges_.emplace(key(ia->second, ib->second), Merge{rank++, iab->second});
  }
}

std::map<std::string, std::string> Gpt2Tokenizer::files() const {
  return {{"encoder.json", encoder_json_}, {"vocab.bpe", vocab_bpe_}};
}

void Gpt2Tokenizer::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  std::vector<int32_t> w(piece.size());  // the piece's tokens, merged in place
  for (size_t i = 0; i < piece.size(); ++i) w[i] = byte_token_[static_cast<uint8_t>(piece[i])];
  while (w.size() > 1) {
    const Merge* best = nullptr;
    int32_t a = 0, b = 0;
    for (size_t i = 0; i + 1 < w.size(); ++i) {
      auto it = merges_.find(key(w[i], w[i + 1]));
      if (it != merges_.end() && (!best || it->second.rank < best->rank))
        best = &it->second, a = w[i], b = w[i + 1];
    }
    if (!best) break;
    size_t o = 0;  // every non-overlapping (a, b), left to right
    for (size_t i = 0; i < w.size();) {
      if (i + 1 < w.size() && w[i] == a && w[i + 1] == b) w[o++] = best->merged, i += 2;
      else w[o++] = w[i++];
    }
    w.resize(o);
  }
  out.insert(out.end(), w.begin(), w.end());
}

std::vector<int32_t> Gpt2Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3);
  // Pieces repeat (words): their BPE is cached for this call as [begin, end) in `out`.
  std::unordered_map<std::string_view, std::pair<size_t, size_t>> cache;
  size_t begin = 0;
  for (size_t end : gpt2_pretokenize(text)) {
    const std::string_view piece = text.substr(begin, end - begin);
    begin = end;
    if (piece.size() == 1) {
      out.push_back(byte_token_[static_cast<uint8_t>(piece[0])]);
      continue;
    }
    auto it = cache.find(piece);
    if (it != cache.end()) {
      const auto [b, e] = it->second;
      for (size_t i = b; i < e; ++i) out.push_back(out[i]);
      continue;
    }
    const size_t first = out.size();
    encode_piece(piece, out);
    cache.emplace(piece, std::make_pair(first, out.size()));
  }
  return out;
}

std::string Gpt2Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_size())
      throw UsageError("token " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                       " is outside the GPT-2 vocabulary (0.." +
                       std::to_string(vocab_size() - 1) + ")");
    text += token_bytes_[ids[i]];
  }
  return text;
}

namespace {

// Hugging Face's tokenizer.json: model.vocab {token: id}, model.merges ["A B"] or [["A","B"]].
std::pair<std::string, std::string> from_hf_json(const std::string& path) {
  json j = json::parse(read_text_file(path, "tokenizer file"), nullptr, false);
  if (j.is_discarded() || !j.contains("model") || !j["model"].contains("vocab") ||
      !j["model"].contains("merges") || !j["model"]["merges"].is_array())
    throw UsageError("tokenizer file '" + path +
                     "' is not a Hugging Face tokenizer.json with model.vocab and model.merges");
  std::string bpe = "#version: 0.2\n";
  for (const auto& m : j["model"]["merges"]) {
    if (m.is_string()) bpe += m.get<std::string>();
    else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
      bpe += m[0].get<std::string>() + " " + m[1].get<std::string>();
    else throw UsageError("tokenizer file '" + path + "': a merge is not \"A B\" or [A, B]");
    bpe += "\n";
  }
  return {j["model"]["vocab"].dump(), bpe};
}

}  // namespace

std::unique_ptr<Tokenizer> load_gpt2(const std::string& dir) {
  namespace stdfs = std::filesystem;
  std::error_code ec;
  if (!stdfs::is_directory(dir, ec))
    throw UsageError("--tokenizer gpt2:" + dir + ": '" + dir +
                     "' is not a directory (it must hold encoder.json and vocab.bpe)");
  const stdfs::path d(dir);
  if (!stdfs::exists(d / "encoder.json") && stdfs::exists(d / "tokenizer.json")) {
    auto [enc, bpe] = from_hf_json((d / "tokenizer.json").string());
    return std::make_unique<Gpt2Tokenizer>(enc, bpe, dir);
  }
  // Hugging Face's GPT-2 directories name the same two files vocab.json + merges.txt.
  const bool hf_names = !stdfs::exists(d / "encoder.json") && stdfs::exists(d / "vocab.json");
  std::string enc = read_text_file((d / (hf_names ? "vocab.json" : "encoder.json")).string(),
                                   "tokenizer file");
  std::string bpe = read_text_file((d / (hf_names ? "merges.txt" : "vocab.bpe")).string(),
                                   "tokenizer file");
  return std::make_unique<Gpt2Tokenizer>(enc, bpe, dir);
}

}  // namespace plait::data
