// The byte tokenizer: every byte of the text is one token, 0..255. There is no
// vocabulary file, no merges and no unknown token, so encode/decode round-trip any
// byte string exactly (UTF-8 or not). The model's vocabulary is kVocab = 256.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace plait::data {

inline constexpr int kVocab = 256;

// One token per byte, in order. Result: [text.size()], each in [0, 256).
std::vector<int32_t> encode(std::string_view text);

// The bytes back. Throws plait::UsageError naming the position of a token outside
// [0, 256) (a model never emits one; a caller's buffer might).
std::string decode(std::span<const int32_t> tokens);

// One token as its byte (the same range check as decode).
char decode_one(int32_t token);

}  // namespace plait::data
