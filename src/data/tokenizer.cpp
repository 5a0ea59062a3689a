#include "data/tokenizer.h"

#include "util/error.h"

namespace plait::data {

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
