#include "util/hash.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "util/error.h"

namespace plait {
namespace {

constexpr uint64_t P1 = 0x9E3779B185EBCA87ULL;
constexpr uint64_t P2 = 0xC2B2AE3D27D4EB4FULL;
constexpr uint64_t P3 = 0x165667B19E3779F9ULL;
constexpr uint64_t P4 = 0x85EBCA77C2B2AE63ULL;
constexpr uint64_t P5 = 0x27D4EB2F165667C5ULL;

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
// Little-endian loads (memcpy is exact on the little-endian hosts plait supports).
inline uint64_t load64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }
inline uint32_t load32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }

inline uint64_t round(uint64_t acc, uint64_t lane) {
  acc += lane * P2;
  acc = rotl(acc, 31);
  return acc * P1;
}
inline uint64_t merge(uint64_t acc, uint64_t lane) {
  acc ^= round(0, lane);
  return acc * P1 + P4;
}

}  // namespace

Xxh64::Xxh64(uint64_t seed)
    : seed_(seed), lanes_{seed + P1 + P2, seed + P2, seed, seed - P1} {}

void Xxh64::consume_stripe(const uint8_t* p) {
  for (int i = 0; i < 4; ++i) lanes_[i] = round(lanes_[i], load64(p + 8 * i));
}

void Xxh64::update(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  total_ += n;
  if (buffered_ > 0) {  // top up the pending stripe first
    size_t take = std::min(n, buf_.size() - buffered_);
    std::memcpy(buf_.data() + buffered_, p, take);
    buffered_ += take, p += take, n -= take;
    if (buffered_ < buf_.size()) return;
    consume_stripe(buf_.data());
    buffered_ = 0;
  }
  for (; n >= 32; p += 32, n -= 32) consume_stripe(p);
  std::memcpy(buf_.data(), p, n);
  buffered_ = n;
}

uint64_t Xxh64::digest() const {
  uint64_t acc;
  if (total_ >= 32) {
    acc = rotl(lanes_[0], 1) + rotl(lanes_[1], 7) + rotl(lanes_[2], 12) + rotl(lanes_[3], 18);
    for (uint64_t lane : lanes_) acc = merge(acc, lane);
  } else {
    acc = seed_ + P5;
  }
  acc += total_;
  // The remaining 0..31 bytes: 8 at a time, then 4, then 1.
  const uint8_t* p = buf_.data();
  size_t n = buffered_;
  for (; n >= 8; p += 8, n -= 8) acc = rotl(acc ^ round(0, load64(p)), 27) * P1 + P4;
  if (n >= 4) {
    acc = rotl(acc ^ (uint64_t(load32(p)) * P1), 23) * P2 + P3;
    p += 4, n -= 4;
  }
  for (; n > 0; ++p, --n) acc = rotl(acc ^ (uint64_t(*p) * P5), 11) * P1;
  // Avalanche.
  acc ^= acc >> 33;
  acc *= P2;
  acc ^= acc >> 29;
  acc *= P3;
  acc ^= acc >> 32;
  return acc;
}

uint64_t xxh64(std::span<const std::byte> bytes, uint64_t seed) {
  Xxh64 h(seed);
  h.update(bytes.data(), bytes.size());
  return h.digest();
}

uint64_t xxh64_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw RuntimeError("cannot read '" + path.string() + "': " + std::strerror(errno));
  Xxh64 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.update(buf.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw RuntimeError("read error in '" + path.string() + "'");
  return h.digest();
}

std::string hex64(uint64_t h) {
  char s[17];
  std::snprintf(s, sizeof s, "%016llx", static_cast<unsigned long long>(h));
  return s;
}

}  // namespace plait
