// fs::DurableFile (fault/fsutil.h): whatever the mode, the size, the pieces the bytes
// come in and where they lie in memory, the file holds exactly the bytes written. In
// direct mode that exercises the staging buffer, the whole blocks written straight
// from the caller's memory (a source at the file's offset modulo a block), the page-
// cache tail and, on a file system without O_DIRECT, the buffered fallback.
#include "fault/fsutil.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "fault_helpers.h"

namespace plait::fs {
namespace {

using fault_testing::read_bytes;
using fault_testing::TempDir;

// `n` pseudo-random bytes at `phase` bytes past a block boundary.
struct Source {
  std::unique_ptr<std::byte, decltype(&std::free)> mem{nullptr, &std::free};
  std::byte* at = nullptr;
  Source(size_t n, size_t phase) {
    // aligned_alloc's size must be a multiple of the alignment (C11; the sanitizers check)
    const size_t bytes = (n + 2 * kDirectAlign + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
    mem.reset(static_cast<std::byte*>(std::aligned_alloc(kDirectAlign, bytes)));
    at = mem.get() + phase;
    uint64_t x = 0x9E3779B97F4A7C15ull ^ n ^ (phase << 32);
    for (size_t i = 0; i < n; ++i) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      at[i] = static_cast<std::byte>(x);
    }
  }
  std::string bytes(size_t n) const { return std::string(reinterpret_cast<const char*>(at), n); }
};

void write_in_pieces(DurableFile& f, const std::byte* p, size_t n, size_t piece) {
  for (size_t i = 0; i < n; i += piece) f.write(p + i, std::min(piece, n - i));
}

TEST(DurableFile, HoldsExactlyTheBytesInEveryModeSizePieceAndPlace) {
  TempDir dir;
  const size_t sizes[] = {0, 1, 4095, 4096, 4097, kStageBytes - 8, kStageBytes,
                          kStageBytes + 4097, 3 * kStageBytes + 123};
  // header-like first pieces (8 + a padded header), then the rest in pieces of `piece`
  const size_t heads[] = {0, 8, 8 + 1000};
  const size_t pieces[] = {1000, kDirectAlign + 8, size_t{1} << 30};
  for (DurableFile::Mode mode : {DurableFile::Mode::Buffered, DurableFile::Mode::Direct})
    for (size_t n : sizes)
      for (size_t head : heads)
        for (size_t piece : pieces)
          for (size_t phase : {size_t{0}, head % kDirectAlign, size_t{24}}) {
            SCOPED_TRACE("mode " + std::to_string(static_cast<int>(mode)) + " size " +
                         std::to_string(n) + " head " + std::to_string(head) + " piece " +
                         std::to_string(piece) + " phase " + std::to_string(phase));
            if (head > n) continue;
            Source s(n, phase);
            const auto path = dir / "f";
            DurableFile f(path, mode);
            f.write(s.at, head);  // from the same buffer: the rest keeps its phase
            write_in_pieces(f, s.at + head, n - head, piece);
            EXPECT_EQ(f.bytes_written(), n);
            f.close();
            const std::string got = read_bytes(path);
            ASSERT_EQ(got.size(), n);
            ASSERT_TRUE(got == s.bytes(n));
          }
}

TEST(DurableFile, WithoutCopyOnlyInDirectModeForASourceInPhaseWithTheFile) {
  TempDir dir;
  Source s(3 * kDirectAlign, 0);
  DurableFile buffered(dir / "b");
  EXPECT_FALSE(buffered.without_copy(s.at, 2 * kDirectAlign));  // never in buffered mode
  DurableFile direct(dir / "d", DurableFile::Mode::Direct);
  EXPECT_FALSE(direct.without_copy(s.at + 8, 2 * kDirectAlign));  // out of phase
  EXPECT_FALSE(direct.without_copy(s.at, kDirectAlign - 1));     // not a whole block
  direct.write(s.at, 8);
  EXPECT_FALSE(direct.without_copy(s.at, 2 * kDirectAlign));
  // in phase: true exactly when this file system took O_DIRECT (reported, not assumed)
  const bool took = direct.without_copy(s.at + 8, 2 * kDirectAlign);
  std::printf("O_DIRECT on %s: %s\n", dir.path().c_str(), took ? "yes" : "no (buffered fallback)");
  direct.write(s.at + 8, 3 * kDirectAlign - 8);
  direct.close();
  EXPECT_TRUE(read_bytes(dir / "d") == s.bytes(3 * kDirectAlign));
}

// Existing::Overwrite writes over a file in place (the same inode) and cuts it to the
// new bytes: shorter, the same size or longer than the old file, in both modes.
TEST(DurableFile, OverwriteKeepsTheFileAndEndsWithExactlyTheNewBytes) {
  TempDir dir;
  const size_t olds[] = {0, 5000, 3 * kStageBytes + 7};
  const size_t news[] = {0, 100, 5000, kStageBytes + 4097, 3 * kStageBytes + 7};
  for (DurableFile::Mode mode : {DurableFile::Mode::Buffered, DurableFile::Mode::Direct})
    for (size_t old_n : olds)
      for (size_t n : news) {
        SCOPED_TRACE("mode " + std::to_string(static_cast<int>(mode)) + " old " +
                     std::to_string(old_n) + " new " + std::to_string(n));
        const auto path = dir / "f";
        Source old_bytes(old_n, 0), s(n, 8);
        write_file_durable(path, old_bytes.bytes(old_n));
        struct stat before{}, after{};
        ASSERT_EQ(::stat(path.c_str(), &before), 0);
        DurableFile f(path, mode, Existing::Overwrite);
        f.write(s.at, n);
        f.close();
        ASSERT_EQ(::stat(path.c_str(), &after), 0);
        EXPECT_EQ(before.st_ino, after.st_ino);
        const std::string got = read_bytes(path);
        ASSERT_EQ(got.size(), n);
        ASSERT_TRUE(got == s.bytes(n));
      }
  // a file that does not exist yet is created, as with Truncate
  write_file_durable(dir / "new", "abc", Existing::Overwrite);
  EXPECT_EQ(read_bytes(dir / "new"), "abc");
}

}  // namespace
}  // namespace plait::fs
