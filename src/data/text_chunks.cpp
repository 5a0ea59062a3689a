#include "data/text_chunks.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "util/error.h"
#include "util/files.h"

namespace plait::data {
namespace stdfs = std::filesystem;

ChunkReader::ChunkReader(std::vector<std::string> files, size_t target)
    : files_(std::move(files)), target_(std::max<size_t>(target, 2)) {
  for (const auto& path : files_) {
    std::error_code ec;
    const auto st = stdfs::status(path, ec);
    if (st.type() == stdfs::file_type::not_found)
      throw UsageError("data file '" + path + "' does not exist");
    if (st.type() == stdfs::file_type::directory)
      throw UsageError("data file '" + path + "' is a directory, not a file");
    require_regular_file(path, "data file");  // a FIFO or a device would never end
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw UsageError("data file '" + path + "' cannot be opened: " + std::strerror(errno));
    std::fclose(f);
    const auto size = stdfs::file_size(path, ec);
    if (!ec && size == 0) throw UsageError("data file '" + path + "' is empty");
    if (!ec) total_ += size;
  }
}

ChunkReader::~ChunkReader() {
  if (f_) std::fclose(f_);
}

bool ChunkReader::fill() {
  if (!f_) return false;
  char block[1 << 16];
  size_t want = std::max<size_t>(target_, sizeof block), got_total = 0;
  while (got_total < want) {
    const size_t got = std::fread(block, 1, sizeof block, f_);
    if (got == 0) break;
    buf_.append(block, got);
    got_total += got;
  }
  read_ += got_total;
  if (std::ferror(f_))
    throw UsageError("data file '" + files_[file_] + "' cannot be read: " + std::strerror(errno));
  if (got_total == 0) {
    std::fclose(f_);
    f_ = nullptr;
    return false;
  }
  return true;
}

bool ChunkReader::next(TextChunk& out) {
  for (;;) {
    if (!f_ && buf_.empty()) {  // open the next file
      if (next_file_ >= files_.size()) return false;
      file_ = next_file_++;
      f_ = std::fopen(files_[file_].c_str(), "rb");
      if (!f_)
        throw UsageError("data file '" + files_[file_] + "' cannot be opened: " +
                         std::strerror(errno));
      scanned_ = 0;
    }
    // a cut point at or after target_, in what is buffered
    for (size_t p = std::max(scanned_, target_); p < buf_.size(); ++p) {
      if (chunk_cut_at(buf_, p)) {
        out.file = file_;
        out.text = buf_.substr(0, p);
        buf_.erase(0, p);
        scanned_ = 0;
        return true;
      }
    }
    scanned_ = buf_.empty() ? 0 : buf_.size() - 1;  // p = size-1 needs one more byte
    if (fill()) continue;
    if (buf_.empty()) continue;  // end of an empty rest: next file
    out.file = file_;
    out.text = std::move(buf_);
    buf_.clear();
    scanned_ = 0;
    return true;
  }
}

std::vector<std::vector<int32_t>> encode_chunks(const Tokenizer& tok,
                                                const std::vector<TextChunk>& chunks,
                                                int threads) {
  std::vector<std::vector<int32_t>> out(chunks.size());
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::min<int>(threads, static_cast<int>(chunks.size()));
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::atomic<bool> failed{false};
  auto work = [&] {
    try {
      for (size_t i; (i = next++) < chunks.size() && !failed;) out[i] = tok.encode(chunks[i].text);
    } catch (...) {
      if (!failed.exchange(true)) error = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  return out;
}

}  // namespace plait::data
