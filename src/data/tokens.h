// A read-only sequence of token ids, stored as uint8, uint16 or uint32 ("width" 1, 2
// or 4 bytes) in one or more pieces: buffers in memory, or shard files of a prepared
// dataset (prepared.h) read in place. Reading widens to int32. Copies and slices are
// views that share the storage (shared ownership), so a Tokens outlives its source.
//
// Shard files are read with pread(), only the tokens asked for, straight from the
// page cache: resident memory does not grow with the corpus. (They were mmap()ed
// first; on kernels whose page cache holds large folios, one fault maps a whole folio
// of up to 2 MiB, and 500 steps of random sequences from a 4 GB shard mapped 3.5 GB:
// docs/PERFORMANCE.md. A pread of one sequence costs about a microsecond.)
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace plait::data {

// A file open for reading at any offset (pread: any thread); UsageError naming it
// when it cannot be opened.
class TokenFile {
 public:
  explicit TokenFile(const std::string& path);
  ~TokenFile();
  TokenFile(const TokenFile&) = delete;
  TokenFile& operator=(const TokenFile&) = delete;
  size_t size() const { return size_; }
  // Exactly n bytes at `offset`; RuntimeError naming the file otherwise.
  void read(uint64_t offset, size_t n, std::byte* out) const;

 private:
  std::string path_;
  int fd_ = -1;
  size_t size_ = 0;
};

class Tokens {
 public:
  Tokens() = default;
  // Owned buffers.
  static Tokens from_bytes(std::vector<uint8_t> v);
  static Tokens from_u16(std::vector<uint16_t> v);
  static Tokens from_u32(std::vector<uint32_t> v);
  // A non-owning view of bytes (the caller keeps them alive): tests, tools.
  static Tokens view_bytes(std::span<const uint8_t> v);
  // A file of `width`-byte little-endian tokens (its size a multiple of width).
  static Tokens from_file(std::shared_ptr<const TokenFile> f, int width);

  // The concatenation, in order (all of one width; `a` may be empty).
  static Tokens concat(const std::vector<Tokens>& parts);

  int64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int width() const { return width_; }
  // Tokens [begin, begin + n) widened into out[0..n); throws std::out_of_range
  // outside [0, size()).
  void read(int64_t begin, int64_t n, int32_t* out) const;
  int32_t at(int64_t i) const;
  // The view [begin, end).
  Tokens slice(int64_t begin, int64_t end) const;
  // The stored bytes in order, block by block (hashing).
  void for_each_block(const std::function<void(const std::byte*, size_t)>& fn) const;

 private:
  struct Piece {
    const std::byte* data;   // this piece's first token in memory, or null: in `file`
    const TokenFile* file;   // (kept alive by owners_)
    uint64_t file_offset;    // byte offset of the first token in `file`
    int64_t begin;           // its index in the sequence
    int64_t size;            // tokens
  };
  std::vector<Piece> pieces_;
  std::vector<std::shared_ptr<const void>> owners_;
  int width_ = 1;
  int64_t size_ = 0;
  static Tokens one(const void* data, int64_t n, int width, std::shared_ptr<const void> owner);
};

}  // namespace plait::data
