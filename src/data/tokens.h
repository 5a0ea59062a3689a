// A read-only sequence of token ids, stored as uint8, uint16 or uint32 ("width" 1, 2
// or 4 bytes) in one or more pieces: buffers in memory, or memory-mapped shard files
// of a prepared dataset (prepared.h). Reading widens to int32. Copies and slices are
// views that share the storage (shared ownership), so a Tokens outlives its source.
//
// Mapped shards are advised MADV_RANDOM: a read touches only the pages of the
// tokens asked for, so resident memory follows what the sampler reads, not the
// corpus size.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace plait::data {

// A whole file mapped read-only; UsageError naming it when it cannot be.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const std::byte* data() const { return static_cast<const std::byte*>(addr_); }
  size_t size() const { return size_; }

 private:
  void* addr_ = nullptr;
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
  // A mapped file of `width`-byte little-endian tokens (its size a multiple of width).
  static Tokens from_file(std::shared_ptr<const MappedFile> f, int width);

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
  // The stored bytes, piece by piece (hashing, writing).
  std::vector<std::span<const std::byte>> pieces() const;

 private:
  struct Piece {
    const std::byte* data;  // this piece's first token
    int64_t begin;          // its index in the sequence
    int64_t size;           // tokens
  };
  std::vector<Piece> pieces_;
  std::vector<std::shared_ptr<const void>> owners_;
  int width_ = 1;
  int64_t size_ = 0;
  static Tokens one(const void* data, int64_t n, int width, std::shared_ptr<const void> owner);
};

}  // namespace plait::data
