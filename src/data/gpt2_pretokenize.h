// GPT-2's pre-tokenizer: the text is cut into pieces before BPE runs on each piece.
// OpenAI's pattern (encoder.py; the reference JS encoder gpt-3-encoder uses it with
// JavaScript's Unicode regex semantics):
//
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// This is that pattern as a scanner (leftmost alternative first, each greedy), with
// the character classes from ICU: \p{L} is General_Category Letter, \p{N} Number,
// and \s is JavaScript's WhiteSpace or LineTerminator (TAB VT FF CR LF, U+FEFF and the
// categories Zs, Zl, Zp). Bytes that are not valid UTF-8 are each one character of
// class "other" (they still round-trip: BPE works on bytes).
#pragma once
#include <cstddef>
#include <string_view>
#include <vector>

namespace plait::data {

// Calls the pieces' end offsets (bytes) in order: piece i is [end[i-1], end[i]).
// The last end is text.size(); pieces are never empty.
std::vector<size_t> gpt2_pretokenize(std::string_view text);

}  // namespace plait::data
