#include "data/prepared.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "data/text_chunks.h"
#include "util/error.h"
#include "util/files.h"
#include "util/hash.h"

namespace plait::data {
namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Writes one split's tokens into shards of at most `per_shard` tokens, hashing each
// file as it goes, and records which source files the tokens came from.
class SplitWriter {
 public:
  SplitWriter(stdfs::path dir, std::string split, int width, int64_t per_shard)
      : dir_(std::move(dir)), split_(std::move(split)), width_(width), per_shard_(per_shard) {}
  ~SplitWriter() {
    if (f_) std::fclose(f_);
  }

  void write(const std::vector<int32_t>& ids, const std::string& source) {
    if (!docs_.empty() && docs_.back()["source"] == source)
      docs_.back()["tokens"] = docs_.back()["tokens"].get<int64_t>() + int64_t(ids.size());
    else
      docs_.push_back({{"source", source}, {"begin", total_}, {"tokens", ids.size()}});
    size_t i = 0;
    while (i < ids.size()) {
      if (!f_ || in_shard_ == per_shard_) open_next();
      const size_t n = std::min<size_t>(ids.size() - i, static_cast<size_t>(per_shard_ - in_shard_));
      buf_.resize(n * width_);
      for (size_t k = 0; k < n; ++k) {
        const uint32_t v = static_cast<uint32_t>(ids[i + k]);  // little-endian, as stored
        std::memcpy(buf_.data() + k * width_, &v, width_);
      }
      if (std::fwrite(buf_.data(), 1, buf_.size(), f_) != buf_.size())
        throw RuntimeError("prepare: cannot write '" + (dir_ / name_).string() + "': " +
                           std::strerror(errno));
      hash_.update(buf_.data(), buf_.size());
      in_shard_ += static_cast<int64_t>(n);
      total_ += static_cast<int64_t>(n);
      i += n;
    }
  }

  int64_t total() const { return total_; }

  json finish() {
    close_shard();
    return {{"tokens", total_}, {"shards", shards_}, {"documents", docs_}};
  }

 private:
  void open_next() {
    close_shard();
    char name[64];
    std::snprintf(name, sizeof name, "%s-%05zu.bin", split_.c_str(), shards_.size());
    name_ = name;
    f_ = std::fopen((dir_ / name_).c_str(), "wb");
    if (!f_) throw RuntimeError("prepare: cannot create '" + (dir_ / name_).string() + "'");
    in_shard_ = 0;
    hash_ = Xxh64();
  }
  void close_shard() {
    if (!f_) return;
    if (std::fclose(f_) != 0) throw RuntimeError("prepare: cannot write '" + name_ + "'");
    f_ = nullptr;
    shards_.push_back({{"file", name_}, {"tokens", in_shard_}, {"xxh64", hex64(hash_.digest())}});
  }

  stdfs::path dir_;
  std::string split_;
  int width_;
  int64_t per_shard_;
  std::FILE* f_ = nullptr;
  std::string name_;
  int64_t in_shard_ = 0, total_ = 0;
  Xxh64 hash_;
  std::vector<char> buf_;
  json shards_ = json::array(), docs_ = json::array();
};

class Progress {
 public:
  explicit Progress(bool on) : on_(on), t0_(Clock::now()) {}
  double seconds() const { return std::chrono::duration<double>(Clock::now() - t0_).count(); }
  void show(const char* what, uint64_t done, uint64_t total, int64_t tokens, bool last = false) {
    if (!on_) return;
    const double s = std::max(seconds(), 1e-9);
    std::fprintf(stderr, "\rprepare: %s %.1f / %.1f MB of text, %lld tokens, %.1f MB/s%s", what,
                 done / 1e6, total / 1e6, static_cast<long long>(tokens), done / 1e6 / s,
                 last ? "\n" : "");
    std::fflush(stderr);
  }

 private:
  bool on_;
  Clock::time_point t0_;
};

// Tokenizes `files` chunk by chunk (a batch of chunks per round, encoded in parallel)
// into the writer `pick` chooses for each chunk (by the byte offset of its end).
template <class Pick>
void tokenize_into(const std::vector<std::string>& files, size_t chunk_bytes,
                   const Tokenizer& tok, int threads, Progress& progress, const char* what,
                   int64_t& tokens, Pick pick) {
  ChunkReader reader(files, chunk_bytes);
  const size_t batch = static_cast<size_t>(std::max(1, threads)) * 4;
  uint64_t offset = 0;
  for (bool more = true; more;) {
    std::vector<TextChunk> chunks;
    TextChunk c;
    while (chunks.size() < batch && (more = reader.next(c))) chunks.push_back(std::move(c));
    const auto ids = encode_chunks(tok, chunks, threads);
    for (size_t i = 0; i < chunks.size(); ++i) {
      offset += chunks[i].text.size();
      pick(offset, reader.total_bytes()).write(ids[i], reader.files()[chunks[i].file]);
      tokens += static_cast<int64_t>(ids[i].size());
    }
    progress.show(what, offset, reader.total_bytes(), tokens);
  }
}

void write_durable(const stdfs::path& p, const std::string& text) {
  const stdfs::path tmp = p.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    f << text;
    if (!f) throw RuntimeError("prepare: cannot write '" + tmp.string() + "'");
  }
  stdfs::rename(tmp, p);
}

}  // namespace

int dtype_width(const std::string& dtype) {
  if (dtype == "uint16") return 2;
  if (dtype == "uint32") return 4;
  throw UsageError("--dtype must be uint16 or uint32, got '" + dtype + "'");
}

std::string dtype_for_vocab(int vocab) { return vocab <= 65536 ? "uint16" : "uint32"; }

PrepareSummary prepare_dataset(const PrepareOptions& opt) {
  if (opt.files.empty()) throw UsageError("prepare: --data needs at least one text file");
  if (opt.out.empty()) throw UsageError("prepare: --out is required");
  if (opt.val_files.empty() && !(opt.val_fraction > 0 && opt.val_fraction < 1))
    throw UsageError("prepare: --val-fraction must be in (0, 1), got " +
                     std::to_string(opt.val_fraction));
  if (opt.shard_tokens < 1) throw UsageError("prepare: --shard-tokens must be positive");
  const auto tok = load_tokenizer(opt.tokenizer);
  ChunkReader(opt.files);  // every file checked before anything is written
  if (!opt.val_files.empty()) ChunkReader(opt.val_files);
  const stdfs::path out(opt.out);
  std::error_code ec;
  if (stdfs::exists(out, ec) && !stdfs::is_directory(out, ec))
    throw UsageError("prepare: --out '" + opt.out + "' exists and is not a directory");
  stdfs::create_directories(out);
  for (const auto& e : stdfs::directory_iterator(out)) {  // a previous preparation's shards
    const std::string n = e.path().filename().string();
    if (n.ends_with(".bin") || n == kIndexFile) stdfs::remove(e.path());
  }
  write_tokenizer_files(*tok, (out / "tokenizer").string());

  PrepareSummary sum;
  sum.dtype = dtype_for_vocab(tok->vocab_size());
  const int width = dtype_width(sum.dtype);
  sum.threads = opt.threads > 0 ? opt.threads
                                : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  SplitWriter train(out, "train", width, opt.shard_tokens), val(out, "val", width, opt.shard_tokens);
  Progress progress(opt.progress);
  int64_t tokens = 0;
  // Without --val-data, the chunks that end in the last val_fraction of the text are
  // the validation split (whole chunks, so whole documents or their tails; at least
  // one chunk).
  tokenize_into(opt.files, opt.chunk_bytes, *tok, sum.threads, progress, "train", tokens,
                [&](uint64_t at, uint64_t total) -> SplitWriter& {
                  const bool to_val = opt.val_files.empty() &&
                                      static_cast<double>(at) > (1 - opt.val_fraction) * total;
                  return to_val ? val : train;
                });
  if (!opt.val_files.empty())
    tokenize_into(opt.val_files, opt.chunk_bytes, *tok, sum.threads, progress, "val", tokens,
                  [&](uint64_t, uint64_t) -> SplitWriter& { return val; });
  progress.show("done:", 0, 0, tokens, true);
  if (val.total() == 0 || train.total() == 0)
    throw UsageError("prepare: the text is one chunk, too little to split off " +
                     std::to_string(opt.val_fraction) +
                     " for validation; pass --val-data FILES or more text");
  sum.train_tokens = train.total();
  sum.val_tokens = val.total();
  json index = {{"format", kPreparedFormat},
                {"version", 1},
                {"dtype", sum.dtype},
                {"tokenizer", {{"type", tok->type()},
                               {"vocab", tok->vocab_size()},
                               {"fingerprint", tok->fingerprint()},
                               {"dir", "tokenizer"}}},
                {"splits", {{"train", train.finish()}, {"val", val.finish()}}}};
  if (opt.val_files.empty()) index["val_fraction"] = opt.val_fraction;
  write_durable(out / kIndexFile, index.dump(1) + "\n");
  for (const auto& f : opt.files) sum.text_bytes += stdfs::file_size(f);
  for (const auto& f : opt.val_files) sum.text_bytes += stdfs::file_size(f);
  sum.seconds = progress.seconds();
  return sum;
}

// ---- reading --------------------------------------------------------------------

bool is_token_dir(const std::string& dir) {
  std::error_code ec;
  return stdfs::is_directory(dir, ec) &&
         (stdfs::exists(stdfs::path(dir) / kIndexFile, ec) ||
          stdfs::exists(stdfs::path(dir) / "train.bin", ec));
}

namespace {

// Reads a shard once: its XXH64 and its largest token. UsageError naming the file
// when it cannot be read or its size is not `tokens` whole tokens.
struct ShardCheck {
  uint64_t xxh64 = 0;
  uint32_t max_token = 0;
  int64_t tokens = 0;
};

ShardCheck check_shard(const stdfs::path& p, int width) {
  std::error_code ec;
  if (!stdfs::is_regular_file(p, ec))
    throw UsageError("token shard '" + p.string() + "' does not exist");
  const uint64_t size = stdfs::file_size(p, ec);
  if (size % width != 0)
    throw UsageError("token shard '" + p.string() + "' has " + std::to_string(size) +
                     " bytes, not a whole number of " + std::to_string(width) + "-byte tokens");
  std::FILE* f = std::fopen(p.c_str(), "rb");
  if (!f) throw UsageError("token shard '" + p.string() + "' cannot be opened: " + std::strerror(errno));
  ShardCheck c;
  Xxh64 h;
  std::vector<unsigned char> buf(size_t{1} << 20);
  size_t got;
  while ((got = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
    h.update(buf.data(), got);
    if (width == 2) {
      uint16_t m = 0;
      for (size_t i = 0; i + 1 < got; i += 2) m = std::max<uint16_t>(m, uint16_t(buf[i] | buf[i + 1] << 8));
      c.max_token = std::max<uint32_t>(c.max_token, m);
    } else {
      for (size_t i = 0; i + 3 < got; i += 4) {
        uint32_t v;
        std::memcpy(&v, buf.data() + i, 4);
        c.max_token = std::max(c.max_token, v);
      }
    }
  }
  const bool bad = std::ferror(f);
  std::fclose(f);
  if (bad) throw UsageError("token shard '" + p.string() + "' cannot be read");
  c.xxh64 = h.digest();
  c.tokens = static_cast<int64_t>(size / width);
  return c;
}

void check_vocab(const stdfs::path& p, const ShardCheck& c, int vocab) {
  if (c.tokens > 0 && c.max_token >= static_cast<uint32_t>(vocab))
    throw UsageError("token shard '" + p.string() + "' holds token " +
                     std::to_string(c.max_token) + ", outside the vocabulary (0.." +
                     std::to_string(vocab - 1) + ")");
}

Tokens open_shard(const stdfs::path& p, int width) {
  return Tokens::from_file(std::make_shared<const TokenFile>(p.string()), width);
}

TokenDir open_nanogpt(const stdfs::path& dir, std::shared_ptr<const Tokenizer> tok,
                      const std::string& dtype) {
  if (!tok)
    throw UsageError("'" + dir.string() + "' is a nanoGPT directory (train.bin, no " +
                     kIndexFile + "): name its tokenizer with --tokenizer (e.g. gpt2:DIR)");
  const int width = dtype_width(dtype);
  TokenDir t;
  t.tokenizer = tok;
  t.name = "nanoGPT dataset '" + dir.string() + "'";
  Xxh64 id;
  for (const char* split : {"train.bin", "val.bin"}) {
    const stdfs::path p = dir / split;
    if (split == std::string("val.bin") && !stdfs::exists(p)) continue;
    const ShardCheck c = check_shard(p, width);
    check_vocab(p, c, tok->vocab_size());
    if (c.tokens == 0) throw UsageError("token file '" + p.string() + "' is empty");
    id.update(&c.xxh64, sizeof c.xxh64);
    (split == std::string("train.bin") ? t.train : t.val) = open_shard(p, width);
  }
  t.hash = hex64(id.digest());
  return t;
}

json read_index(const stdfs::path& p) {
  json j = json::parse(read_regular_file(p.string(), "token index", 256ull << 20), nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("format", "") != kPreparedFormat)
    throw UsageError("'" + p.string() + "' is not a plait token index (format " +
                     kPreparedFormat + ")");
  return j;
}

}  // namespace

std::shared_ptr<const Tokenizer> token_dir_tokenizer(const std::string& dir_s) {
  const stdfs::path dir(dir_s);
  if (!stdfs::exists(dir / kIndexFile)) return nullptr;
  const json index = read_index(dir / kIndexFile);
  try {
    const json& tj = index.at("tokenizer");
    return load_tokenizer_from_dir(tj.at("type").get<std::string>(),
                                   (dir / tj.at("dir").get<std::string>()).string());
  } catch (const json::exception& e) {
    throw UsageError("'" + (dir / kIndexFile).string() + "' is damaged: " + e.what());
  }
}

TokenDir open_token_dir(const std::string& dir_s, std::shared_ptr<const Tokenizer> tok,
                        const std::string& dtype) {
  const stdfs::path dir(dir_s);
  if (!stdfs::exists(dir / kIndexFile)) return open_nanogpt(dir, std::move(tok), dtype);
  const stdfs::path ip = dir / kIndexFile;
  const json index = read_index(ip);
  TokenDir t;
  t.name = "prepared dataset '" + dir_s + "'";
  int width = 0;
  try {
    width = dtype_width(index.at("dtype").get<std::string>());
    const json& tj = index.at("tokenizer");
    auto own = load_tokenizer_from_dir(tj.at("type").get<std::string>(),
                                       (dir / tj.at("dir").get<std::string>()).string());
    if (own->fingerprint() != tj.at("fingerprint").get<std::string>())
      throw UsageError("tokenizer files in '" + (dir / "tokenizer").string() +
                       "' do not match the fingerprint in '" + ip.string() + "'");
    if (tok && tok->fingerprint() != own->fingerprint())
      throw UsageError("--tokenizer " + tok->type() + " is not the tokenizer " + t.name +
                       " was prepared with (" + own->type() + "); leave --tokenizer out");
    t.tokenizer = std::move(own);
    Xxh64 id;
    for (const char* split : {"train", "val"}) {
      std::vector<Tokens> parts;
      for (const json& s : index.at("splits").at(split).at("shards")) {
        const stdfs::path p = dir / s.at("file").get<std::string>();
        const ShardCheck c = check_shard(p, width);
        if (c.tokens != s.at("tokens").get<int64_t>())
          throw UsageError("token shard '" + p.string() + "' has " + std::to_string(c.tokens) +
                           " tokens, the index says " + s.at("tokens").dump());
        if (hex64(c.xxh64) != s.at("xxh64").get<std::string>())
          throw UsageError("token shard '" + p.string() + "' fails its checksum (XXH64 " +
                           hex64(c.xxh64) + ", the index says " +
                           s.at("xxh64").get<std::string>() + ")");
        check_vocab(p, c, t.tokenizer->vocab_size());
        id.update(&c.xxh64, sizeof c.xxh64);
        parts.push_back(open_shard(p, width));
      }
      (split == std::string("train") ? t.train : t.val) = Tokens::concat(parts);
    }
    t.hash = hex64(id.digest());
  } catch (const json::exception& e) {
    throw UsageError("'" + ip.string() + "' is damaged: " + e.what());
  }
  return t;
}

}  // namespace plait::data
