#include <gtest/gtest.h>

#include <string>

#include "fault/hash.h"
#include "fault_helpers.h"

namespace plait {
namespace {

uint64_t h(const std::string& s, uint64_t seed = 0) {
  return xxh64(std::as_bytes(std::span<const char>(s.data(), s.size())), seed);
}

std::string bytes771() {
  std::string s;
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
  return s + "xyz";
}

// Reference digests from the system's libxxhash (XXH64 via Python ctypes).
TEST(Xxh64, MatchesReferenceLibrary) {
  EXPECT_EQ(h(""), 0xef46db3751d8e999ULL);
  EXPECT_EQ(h("a"), 0xd24ec4f1a98c6e5bULL);
  EXPECT_EQ(h("abc"), 0x44bc2cf5ad770999ULL);
  EXPECT_EQ(h("0123456789abcdef0123456789abcde"), 0x1fdfc63febacfde7ULL);
  EXPECT_EQ(h(bytes771()), 0xe921a1b45bd779f8ULL);
  EXPECT_EQ(h("", 42), 0x98b1582b0977e704ULL);
  EXPECT_EQ(h("abc", 42), 0x13c1d910702770e6ULL);
  EXPECT_EQ(h(bytes771(), 42), 0x7649e45d58c1a228ULL);
}

TEST(Xxh64, StreamingEqualsOneShotForEveryChunking) {
  const std::string s = bytes771();
  for (size_t chunk : {1, 3, 7, 31, 32, 33, 100, 1000}) {
    Xxh64 st;
    for (size_t i = 0; i < s.size(); i += chunk) st.update(s.data() + i, std::min(chunk, s.size() - i));
    EXPECT_EQ(st.digest(), h(s)) << "chunk " << chunk;
  }
}

TEST(Xxh64, FileAndHex) {
  fault_testing::TempDir dir;
  fault_testing::write_bytes(dir / "f", bytes771());
  EXPECT_EQ(xxh64_file(dir / "f"), 0xe921a1b45bd779f8ULL);
  EXPECT_EQ(hex64(0xe921a1b45bd779f8ULL), "e921a1b45bd779f8");
  EXPECT_EQ(hex64(1), "0000000000000001");
}

}  // namespace
}  // namespace plait
