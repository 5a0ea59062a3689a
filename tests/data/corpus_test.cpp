#include "data/corpus.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "data_helpers.h"
#include "util/error.h"

namespace plait::data {
using testing::expect_usage_error;
using testing::TempDir;

static std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(Corpus, TrainLengthIsFloorOfNinetyPercent) {
  EXPECT_EQ(train_length(100), 90);
  EXPECT_EQ(train_length(101), 90);  // 90.9 -> 90; val gets ceil(10.1) = 11
  EXPECT_EQ(train_length(109), 98);  // 98.1
  EXPECT_EQ(train_length(10), 9);
  EXPECT_EQ(train_length(int64_t{1} << 62), ((int64_t{1} << 62) / 10) * 9 + 3);  // no overflow
  for (int64_t n = 0; n < 1000; ++n) EXPECT_EQ(train_length(n), 9 * n / 10) << n;
}

TEST(Corpus, SplitBoundaries) {
  std::vector<uint8_t> bytes(1000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i % 251);
  Corpus c = Corpus::from_bytes(bytes, 8, "mem");
  ASSERT_EQ(c.size(), 1000);
  EXPECT_EQ(c.train_size(), 900);
  EXPECT_EQ(c.val_size(), 100);
  ASSERT_EQ(c.train().size(), 900u);
  ASSERT_EQ(c.val().size(), 100u);
  EXPECT_EQ(c.train().data(), c.bytes().data());
  EXPECT_EQ(c.val().data(), c.bytes().data() + 900);  // contiguous, nothing lost
  EXPECT_EQ(c.train().back(), bytes[899]);
  EXPECT_EQ(c.val().front(), bytes[900]);
}

TEST(Corpus, FilesConcatenateInGivenOrder) {
  TempDir tmp;
  std::string a = tmp.file("a.txt", repeat("A", 30)), b = tmp.file("b.txt", repeat("b", 20));
  Corpus ab = Corpus::load({a, b}, 4);
  Corpus ba = Corpus::load({b, a}, 4);
  EXPECT_EQ(ab.size(), 50);
  EXPECT_EQ(std::string(ab.bytes().begin(), ab.bytes().end()), repeat("A", 30) + repeat("b", 20));
  EXPECT_EQ(std::string(ba.bytes().begin(), ba.bytes().end()), repeat("b", 20) + repeat("A", 30));
  EXPECT_EQ(ab.files(), (std::vector<std::string>{a, b}));
  EXPECT_EQ(ab.val_size(), 5);
}

TEST(Corpus, MissingFile) {
  TempDir tmp;
  std::string p = tmp.path("nope.txt");
  expect_usage_error([&] { Corpus::load({p}, 4); }, {p, "does not exist"});
}

TEST(Corpus, MissingSecondFileIsNamed) {
  TempDir tmp;
  std::string a = tmp.file("a.txt", repeat("x", 100)), p = tmp.path("gone.txt");
  expect_usage_error([&] { Corpus::load({a, p}, 4); }, {"gone.txt", "does not exist"});
}

TEST(Corpus, EmptyFile) {
  TempDir tmp;
  std::string p = tmp.file("empty.txt", "");
  expect_usage_error([&] { Corpus::load({p}, 4); }, {p, "is empty"});
}

TEST(Corpus, DirectoryGiven) {
  TempDir tmp;
  expect_usage_error([&] { Corpus::load({tmp.dir()}, 4); }, {tmp.dir(), "is a directory"});
}

TEST(Corpus, UnreadableFile) {
  // /proc/self/mem is a regular file whose read at offset 0 fails (EIO), even for
  // root, for whom permission bits do not stop a read.
  expect_usage_error([] { read_file_bytes("/proc/self/mem"); }, {"/proc/self/mem", "cannot"});
  if (geteuid() != 0) {
    TempDir tmp;
    std::string p = tmp.file("secret.txt", "hidden text");
    ASSERT_EQ(chmod(p.c_str(), 0), 0);
    expect_usage_error([&] { Corpus::load({p}, 4); }, {p, "cannot"});
  }
}

TEST(Corpus, ShorterThanCtxPlusOne) {
  TempDir tmp;
  std::string p = tmp.file("tiny.txt", "0123456789");  // 10 bytes
  expect_usage_error([&] { Corpus::load({p}, 16); },
                     {p, "has 10 bytes", "ctx 16", "at least ctx+1 = 17"});
  expect_usage_error([&] { Corpus::load({p}, 10); }, {"has 10 bytes", "= 11"});
}

TEST(Corpus, ValidationSplitTooShort) {
  TempDir tmp;
  // 100 bytes, ctx 16: corpus >= 17 but the last 10% is 10 bytes < 17.
  std::string p = tmp.file("small.txt", repeat("x", 100));
  expect_usage_error([&] { Corpus::load({p}, 16); },
                     {"validation split", p, "has 10 bytes", "ctx+1 = 17", "at least 161 bytes"});
  // The advertised minimum works, one byte less does not.
  EXPECT_NO_THROW(Corpus::from_bytes(std::vector<uint8_t>(161, 'x'), 16, "m"));
  EXPECT_THROW(Corpus::from_bytes(std::vector<uint8_t>(160, 'x'), 16, "m"), UsageError);
}

TEST(Corpus, BadCtx) {
  expect_usage_error([] { Corpus::from_bytes(std::vector<uint8_t>(100, 'x'), 0, "m"); },
                     {"ctx", "at least 1"});
}

TEST(Corpus, DefaultCorpusDirectoryMissingIsAnError) {
  expect_usage_error([] { default_corpus_files("/nonexistent/plait/fortunes"); },
                     {"/nonexistent/plait/fortunes", "does not exist", "fortunes"});
  TempDir tmp;
  tmp.file("x.dat", "index");
  expect_usage_error([&] { default_corpus_files(tmp.dir()); }, {tmp.dir(), "no text files"});
}

TEST(Corpus, DefaultCorpusDiscoveryRules) {
  TempDir tmp;
  tmp.file("b", "bbb");
  tmp.file("a", "aaa");
  tmp.file("a.dat", "index");
  tmp.file("c.u8", "utf8");
  std::filesystem::create_directory(tmp.path("sub"));
  EXPECT_EQ(default_corpus_files(tmp.dir()),
            (std::vector<std::string>{tmp.path("a"), tmp.path("b")}));
}

// The installed corpus: this FAILS (never skips) when the fortunes package is
// missing, since `make run` trains on it.
TEST(Corpus, DefaultCorpusIsInstalledFortunes) {
  ASSERT_TRUE(std::filesystem::is_directory(kDefaultCorpusDir))
      << kDefaultCorpusDir << " is missing: install Debian's `fortunes` package "
      << "(scripts/setup.sh does it)";
  std::vector<std::string> files = default_corpus_files();
  ASSERT_GE(files.size(), 10u);
  EXPECT_TRUE(std::is_sorted(files.begin(), files.end()));
  for (const auto& f : files) {
    EXPECT_FALSE(f.ends_with(".dat")) << f;
    EXPECT_FALSE(f.ends_with(".u8")) << f;
    EXPECT_TRUE(std::filesystem::is_regular_file(f)) << f;
  }
  Corpus c = Corpus::load({}, 128);
  EXPECT_EQ(c.files(), files);
  EXPECT_GT(c.size(), 1'000'000);  // about 2.5 MB of English
  EXPECT_EQ(c.train_size() + c.val_size(), c.size());
  // Mostly printable text.
  int64_t printable = 0;
  for (uint8_t b : c.bytes()) printable += (b >= 32 && b < 127) || b == '\n' || b == '\t';
  EXPECT_GT(printable, c.size() * 95 / 100);
}

}  // namespace plait::data
