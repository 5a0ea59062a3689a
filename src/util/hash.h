// XXH64 (Yann Collet's xxHash, 64-bit variant, seed 0), written here from the public
// specification (doc/xxhash_spec.md in the xxHash repository). Checkpoints record it
// for every file, as 16 lowercase hex digits, so `xxhsum -H1 FILE` (xxhsum's XXH64
// mode) verifies a checkpoint file independently of plait.
//
// Xxh64 is streaming: update() in any chunking gives the same digest as one call.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace plait {

class Xxh64 {
 public:
  explicit Xxh64(uint64_t seed = 0);
  void update(const void* data, size_t n);
  uint64_t digest() const;

 private:
  void consume_stripe(const uint8_t* p);  // one 32-byte stripe into the 4 lanes
  uint64_t seed_;
  uint64_t lanes_[4];
  uint64_t total_ = 0;
  std::array<uint8_t, 32> buf_{};  // a partial stripe waiting for more input
  size_t buffered_ = 0;
};

uint64_t xxh64(std::span<const std::byte> bytes, uint64_t seed = 0);
// Hash of a whole file's bytes; RuntimeError when it cannot be read.
uint64_t xxh64_file(const std::filesystem::path& path);
// 16 lowercase hex digits, most significant first (xxhsum's canonical form).
std::string hex64(uint64_t h);

}  // namespace plait
