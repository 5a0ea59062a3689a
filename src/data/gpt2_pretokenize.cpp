#include "data/gpt2_pretokenize.h"

#include <array>
#include <cstdint>

#include <unicode/uchar.h>
#include <unicode/utf8.h>

namespace plait::data {
namespace {

enum Cls : uint8_t { kLetter, kNumber, kSpace, kOther };

Cls classify(UChar32 c) {
  if (c < 0) return kOther;  // an invalid UTF-8 byte
  if (c == 0x09 || c == 0x0A || c == 0x0B || c == 0x0C || c == 0x0D || c == 0xFEFF)
    return kSpace;
  const uint32_t gc = U_GET_GC_MASK(c);
  if (gc & U_GC_L_MASK) return kLetter;
  if (gc & U_GC_N_MASK) return kNumber;
  if (gc & (U_GC_ZS_MASK | U_GC_ZL_MASK | U_GC_ZP_MASK)) return kSpace;
  return kOther;
}

// ASCII classes, filled from classify() once (the hot path of English text).
const std::array<Cls, 128>& ascii_classes() {
  static const std::array<Cls, 128> table = [] {
    std::array<Cls, 128> t{};
    for (int c = 0; c < 128; ++c) t[c] = classify(c);
    return t;
  }();
  return table;
}

// The text as characters: each one's class and code point, and its byte offsets.
struct Chars {
  std::vector<Cls> cls;
  std::vector<UChar32> cp;
  std::vector<size_t> at;  // [n + 1]: byte offset of character k; at[n] = text size
};

Chars decode(std::string_view text) {
  const auto& ascii = ascii_classes();
  Chars s;
  s.cls.reserve(text.size());
  s.cp.reserve(text.size());
  s.at.reserve(text.size() + 1);
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  const int32_t n = static_cast<int32_t>(text.size());
  for (int32_t i = 0; i < n;) {
    s.at.push_back(static_cast<size_t>(i));
    UChar32 c;
    if (p[i] < 0x80) {
      c = p[i++];
      s.cls.push_back(ascii[c]);
    } else {
      const int32_t start = i;
      U8_NEXT(p, i, n, c);  // c < 0: an invalid sequence; consume one byte of it
      if (c < 0) i = start + 1;
      s.cls.push_back(classify(c));
    }
    s.cp.push_back(c);
  }
  s.at.push_back(text.size());
  return s;
}

// Length in characters of the contraction at k ('s 't 'm 'd 're 've 'll), or 0.
size_t contraction(const Chars& s, size_t k) {
  const size_t n = s.cp.size();
  if (s.cp[k] != '\'' || k + 1 >= n) return 0;
  const UChar32 a = s.cp[k + 1];
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (k + 2 >= n) return 0;
  const UChar32 b = s.cp[k + 2];
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

// Length in characters of the piece starting at character k.
size_t piece(const Chars& s, size_t k) {
  const size_t n = s.cls.size();
  if (size_t c = contraction(s, k)) return c;
  // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": an optional ' ' then a run of one class
  size_t j = k;
  if (s.cp[j] == ' ' && j + 1 < n && s.cls[j + 1] != kSpace) ++j;
  if (s.cls[j] != kSpace) {
    const Cls c = s.cls[j];
    while (j < n && s.cls[j] == c) ++j;
    return j - k;
  }
  // "\s+(?!\S)": the whitespace run, less its last character when a non-space follows
  // (that character may start the next piece, as " word"); "\s+": a lone space.
  while (j < n && s.cls[j] == kSpace) ++j;
  if (j == n || j - k == 1) return j - k;
  return j - k - 1;
}

}  // namespace

std::vector<size_t> gpt2_pretokenize(std::string_view text) {
  const Chars s = decode(text);
  std::vector<size_t> ends;
  for (size_t k = 0; k < s.cls.size();) {
    k += piece(s, k);
    ends.push_back(s.at[k]);
  }
  return ends;
}

}  // namespace plait::data
