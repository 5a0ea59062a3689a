// Text files cut into chunks for tokenizing in parallel (`plait prepare`, and `train`
// on text with a tokenizer other than bytes). Each chunk is encoded on its own.
//
// A chunk ends just after a newline that sits between two visible ASCII characters
// ("x\ny"), at the first such place after `target` bytes (else at the end of the
// file). There, GPT-2's pre-tokenizer puts a piece boundary on both sides of the "\n"
// whatever the context, so encoding the chunks one by one gives exactly the ids of
// encoding each whole file (tests/data/prepared_test.cpp checks it).
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "data/tokenizer.h"

namespace plait::data {

struct TextChunk {
  size_t file = 0;   // index into the reader's files
  std::string text;  // never empty
};

class ChunkReader {
 public:
  // Checks every file up front: missing, a directory, unreadable or empty files are
  // UsageErrors naming the file.
  explicit ChunkReader(std::vector<std::string> files, size_t target = size_t{1} << 20);
  ~ChunkReader();
  // The next chunk in file order; false after the last.
  bool next(TextChunk& out);
  const std::vector<std::string>& files() const { return files_; }
  uint64_t total_bytes() const { return total_; }
  uint64_t bytes_read() const { return read_; }

 private:
  bool fill();  // reads more of the current file into buf_; false at its end
  std::vector<std::string> files_;
  size_t target_;
  uint64_t total_ = 0, read_ = 0;
  size_t file_ = 0, next_file_ = 0;  // the file being read, the next to open
  std::FILE* f_ = nullptr;
  std::string buf_;
  size_t scanned_ = 0;  // buf_ positions before this hold no cut point
};

// tok.encode of each chunk, on `threads` threads (0: hardware threads).
std::vector<std::vector<int32_t>> encode_chunks(const Tokenizer& tok,
                                                const std::vector<TextChunk>& chunks,
                                                int threads = 0);

// Where a chunk may end: just after a newline at p-1 with visible ASCII at p-2 and p.
inline bool chunk_cut_at(const std::string& s, size_t p) {
  auto visible = [](char c) { return c > ' ' && c < 0x7f; };
  return p >= 2 && p < s.size() && s[p - 1] == '\n' && visible(s[p - 2]) && visible(s[p]);
}

}  // namespace plait::data
