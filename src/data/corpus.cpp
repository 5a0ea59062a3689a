#include "data/corpus.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "util/error.h"
#include "util/files.h"
#include "util/machine.h"

namespace plait::data {
namespace fs = std::filesystem;

namespace {

std::string in_quotes(const std::string& s) { return "'" + s + "'"; }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Describes a list of files for messages: "'a'" or "3 files ('a' … 'c')".
std::string describe_files(const std::vector<std::string>& files) {
  if (files.size() == 1) return in_quotes(files[0]);
  return std::to_string(files.size()) + " files (" + in_quotes(files.front()) + " ... " +
         in_quotes(files.back()) + ")";
}

void check_path(const std::string& path) {
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  if (st.type() == fs::file_type::not_found)
    throw UsageError("data file " + in_quotes(path) + " does not exist");
  if (ec) throw UsageError("data file " + in_quotes(path) + " cannot be read: " + ec.message());
  if (st.type() == fs::file_type::directory)
    throw UsageError("data file " + in_quotes(path) + " is a directory, not a file");
  require_regular_file(path, "data file");  // a FIFO or /dev/zero would never end
}

}  // namespace

std::vector<std::string> default_corpus_files(const std::string& dir) {
  const std::string hint =
      " (install Debian's fortunes package with scripts/setup.sh, or pass --data FILE)";
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw UsageError("default corpus directory " + in_quotes(dir) + " does not exist" + hint);
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (ends_with(name, ".dat") || ends_with(name, ".u8")) continue;
    if (entry.is_regular_file(ec)) files.push_back(entry.path().string());
  }
  if (ec) throw UsageError("default corpus directory " + in_quotes(dir) + ": " + ec.message());
  if (files.empty())
    throw UsageError("default corpus directory " + in_quotes(dir) + " holds no text files" + hint);
  std::sort(files.begin(), files.end());  // same directory, so by file name
  return files;
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  check_path(path);
  const RegularFile f(path, "data file", UINT64_MAX);
  require_memory(2.0 * static_cast<double>(f.size()),
                 "data file " + in_quotes(path) + " (" + std::to_string(f.size()) + " bytes)");
  std::vector<uint8_t> bytes(f.size());
  f.read_into(bytes.data());
  char probe = 0;  // a file of size 0 may still fail to read (/proc/self/mem): say so
  if (bytes.empty() && ::pread(f.fd(), &probe, 1, 0) < 0)
    throw UsageError("data file " + in_quotes(path) + " cannot be read: " + std::strerror(errno));
  if (bytes.empty()) throw UsageError("data file " + in_quotes(path) + " is empty");
  return bytes;
}

int64_t train_length(int64_t n) {
  return n / 10 * 9 + (n % 10) * 9 / 10;
}  // floor(9n/10), no overflow

Corpus::Corpus(std::vector<uint8_t> bytes, std::vector<std::string> files, std::string name)
    : bytes_(std::move(bytes)), files_(std::move(files)), name_(std::move(name)) {}

Corpus Corpus::load(const std::vector<std::string>& paths, int ctx) {
  std::vector<std::string> files = paths.empty() ? default_corpus_files() : paths;
  std::vector<uint8_t> bytes;
  for (const auto& path : files) {
    std::vector<uint8_t> one = read_file_bytes(path);
    bytes.insert(bytes.end(), one.begin(), one.end());
  }
  std::string name = describe_files(files);
  Corpus corpus(std::move(bytes), std::move(files), std::move(name));
  corpus.validate(ctx);
  return corpus;
}

Corpus Corpus::from_bytes(std::vector<uint8_t> bytes, int ctx, std::string name) {
  if (bytes.empty()) throw UsageError("data " + in_quotes(name) + " is empty");
  Corpus corpus(std::move(bytes), {name}, in_quotes(name));
  corpus.validate(ctx);
  return corpus;
}

std::span<const uint8_t> Corpus::train() const {
  return std::span<const uint8_t>(bytes_).first(static_cast<size_t>(train_size()));
}

std::span<const uint8_t> Corpus::val() const {
  return std::span<const uint8_t>(bytes_).subspan(static_cast<size_t>(train_size()));
}

// Both splits must hold one window of ctx+1 bytes (ctx inputs, targets shifted by one).
void Corpus::validate(int ctx) const {
  if (ctx < 1)
    throw UsageError("context length (ctx) must be at least 1, got " + std::to_string(ctx));
  const int64_t need = int64_t{ctx} + 1;
  const std::string has = " has " + std::to_string(size()) + " bytes";
  if (size() < need)
    throw UsageError("corpus " + name_ + has + "; ctx " + std::to_string(ctx) +
                     " needs at least ctx+1 = " + std::to_string(need));
  // ceil(n/10) >= ctx+1 exactly when n >= 10*ctx + 1.
  const std::string min_total = std::to_string(10 * int64_t{ctx} + 1);
  if (val_size() < need)
    throw UsageError("validation split (last 10%) of corpus " + name_ + " has " +
                     std::to_string(val_size()) + " bytes; ctx " + std::to_string(ctx) +
                     " needs at least ctx+1 = " + std::to_string(need) +
                     ", so the corpus needs at least " + min_total + " bytes");
  if (train_size() < need)
    throw UsageError("training split (first 90%) of corpus " + name_ + " has " +
                     std::to_string(train_size()) + " bytes; ctx " + std::to_string(ctx) +
                     " needs at least ctx+1 = " + std::to_string(need));
}

}  // namespace plait::data
