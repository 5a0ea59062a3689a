// The text corpus: files read as raw bytes, concatenated in the order given, then
// split once: the first 90% of the bytes is the training split, the last 10% the
// validation split (train_length() below is the exact rule).
//
// Every problem with the input is a plait::UsageError (exit 2) whose message is one
// line naming the file and what is wrong: a missing file, a directory, an unreadable
// file, an empty file, a corpus or a split too short for the context length.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace plait::data {

// Where Debian's `fortunes` package installs its text files.
inline constexpr const char* kDefaultCorpusDir = "/usr/share/games/fortunes";

// The default corpus: every regular file in `dir` whose name does not end in ".dat"
// (strfile indices) or ".u8" (UTF-8 symlinks to the same texts), sorted by file
// name so the corpus is the same byte string on every machine. Throws UsageError
// when `dir` does not exist or holds no such file (and says how to install it).
std::vector<std::string> default_corpus_files(const std::string& dir = kDefaultCorpusDir);

// One file's bytes, read to end of file (not trusting stat's size, so pipes and
// /proc files work). Throws UsageError: missing, a directory, unreadable, empty.
std::vector<uint8_t> read_file_bytes(const std::string& path);

// train_length(n) = floor(9n / 10); the validation split is the other
// n - floor(9n/10) = ceil(n/10) bytes, at the end.
int64_t train_length(int64_t n);

class Corpus {
 public:
  // Reads `paths` in order (an empty list means default_corpus_files()) and checks
  // that ctx >= 1, the corpus has at least ctx+1 bytes, and both splits have at
  // least ctx+1 bytes (one input/target window each). Throws UsageError otherwise.
  static Corpus load(const std::vector<std::string>& paths, int ctx);

  // The same checks on bytes already in memory; `name` stands for the file in
  // messages (tests, tools).
  static Corpus from_bytes(std::vector<uint8_t> bytes, int ctx, std::string name);

  std::span<const uint8_t> bytes() const { return bytes_; }  // [size()]
  std::span<const uint8_t> train() const;                    // [train_size()]
  std::span<const uint8_t> val() const;                      // [val_size()]
  int64_t size() const { return static_cast<int64_t>(bytes_.size()); }
  int64_t train_size() const { return train_length(size()); }
  int64_t val_size() const { return size() - train_size(); }
  const std::vector<std::string>& files() const { return files_; }
  // "'a.txt'" for one file, "46 files ('…/art' … '…/zippy')" for several.
  const std::string& name() const { return name_; }
  // The bytes, taking them out of the corpus (dataset.h shares them between splits).
  std::vector<uint8_t> release() && { return std::move(bytes_); }

 private:
  Corpus(std::vector<uint8_t> bytes, std::vector<std::string> files, std::string name);
  void validate(int ctx) const;

  std::vector<uint8_t> bytes_;      // the files' bytes back to back
  std::vector<std::string> files_;  // in corpus order
  std::string name_;
};

}  // namespace plait::data
