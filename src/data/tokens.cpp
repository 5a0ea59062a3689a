#include "data/tokens.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "util/files.h"

namespace plait::data {

TokenFile::TokenFile(const std::string& path) : path_(path) {
  require_regular_file(path, "token file");  // a FIFO would block the open
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) throw UsageError("token file '" + path + "' cannot be opened: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    ::close(fd_);
    throw UsageError("token file '" + path + "' cannot be read: " + std::strerror(errno));
  }
  size_ = static_cast<size_t>(st.st_size);
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_RANDOM);  // no readahead: reads are a sequence each
}

TokenFile::~TokenFile() { ::close(fd_); }

void TokenFile::read(uint64_t offset, size_t n, std::byte* out) const {
  while (n > 0) {
    const ssize_t got = ::pread(fd_, out, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0)
      throw RuntimeError("token file '" + path_ + "': read at byte " + std::to_string(offset) +
                         " failed: " + (got < 0 ? std::strerror(errno) : "the file shrank"));
    out += got, offset += static_cast<uint64_t>(got), n -= static_cast<size_t>(got);
  }
}

Tokens Tokens::one(const void* data, int64_t n, int width, std::shared_ptr<const void> owner) {
  Tokens t;
  t.width_ = width;
  t.size_ = n;
  if (n > 0) t.pieces_.push_back({static_cast<const std::byte*>(data), nullptr, 0, 0, n});
  if (owner) t.owners_.push_back(std::move(owner));
  return t;
}

template <class T>
static std::shared_ptr<const std::vector<T>> share(std::vector<T> v) {
  return std::make_shared<const std::vector<T>>(std::move(v));
}

Tokens Tokens::from_bytes(std::vector<uint8_t> v) {
  auto p = share(std::move(v));
  return one(p->data(), static_cast<int64_t>(p->size()), 1, p);
}
Tokens Tokens::from_u16(std::vector<uint16_t> v) {
  auto p = share(std::move(v));
  return one(p->data(), static_cast<int64_t>(p->size()), 2, p);
}
Tokens Tokens::from_u32(std::vector<uint32_t> v) {
  auto p = share(std::move(v));
  return one(p->data(), static_cast<int64_t>(p->size()), 4, p);
}
Tokens Tokens::view_bytes(std::span<const uint8_t> v) {
  return one(v.data(), static_cast<int64_t>(v.size()), 1, nullptr);
}
Tokens Tokens::from_file(std::shared_ptr<const TokenFile> f, int width) {
  if (width != 1 && width != 2 && width != 4)
    throw std::invalid_argument("Tokens::from_file: width must be 1, 2 or 4");
  Tokens t;
  t.width_ = width;
  t.size_ = static_cast<int64_t>(f->size()) / width;
  if (t.size_ > 0) t.pieces_.push_back({nullptr, f.get(), 0, 0, t.size_});
  t.owners_.push_back(std::move(f));
  return t;
}

Tokens Tokens::concat(const std::vector<Tokens>& parts) {
  Tokens t;
  bool first = true;
  for (const Tokens& p : parts) {
    if (p.empty()) continue;
    if (first) t.width_ = p.width_, first = false;
    if (p.width_ != t.width_) throw std::invalid_argument("Tokens::concat: widths differ");
    for (Piece q : p.pieces_) {
      q.begin += t.size_;
      t.pieces_.push_back(q);
    }
    t.owners_.insert(t.owners_.end(), p.owners_.begin(), p.owners_.end());
    t.size_ += p.size_;
  }
  return t;
}

static void widen(const std::byte* src, int width, int64_t n, int32_t* out) {
  switch (width) {
    case 1: {
      auto* s = reinterpret_cast<const uint8_t*>(src);
      for (int64_t i = 0; i < n; ++i) out[i] = s[i];
      break;
    }
    case 2:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, src + 2 * i, 2);
        out[i] = v;
      }
      break;
    default:
      for (int64_t i = 0; i < n; ++i) {
        uint32_t v;
        std::memcpy(&v, src + 4 * i, 4);
        out[i] = static_cast<int32_t>(v);
      }
  }
}

void Tokens::read(int64_t begin, int64_t n, int32_t* out) const {
  if (begin < 0 || n < 0 || begin + n > size_)
    throw std::out_of_range("Tokens::read: [" + std::to_string(begin) + ", " +
                            std::to_string(begin + n) + ") outside [0, " + std::to_string(size_) +
                            ")");
  if (n == 0) return;
  // the piece holding `begin`: the last one starting at or before it
  auto it = std::upper_bound(pieces_.begin(), pieces_.end(), begin,
                             [](int64_t b, const Piece& p) { return b < p.begin; }) - 1;
  thread_local std::vector<std::byte> buf;  // a file piece's bytes
  for (; n > 0; ++it) {
    const int64_t off = begin - it->begin;
    const int64_t take = std::min(n, it->size - off);
    const std::byte* src = it->data ? it->data + off * width_ : nullptr;
    if (!src) {
      buf.resize(static_cast<size_t>(take * width_));
      it->file->read(it->file_offset + static_cast<uint64_t>(off * width_), buf.size(), buf.data());
      src = buf.data();
    }
    widen(src, width_, take, out);
    out += take, begin += take, n -= take;
  }
}

int32_t Tokens::at(int64_t i) const {
  int32_t v;
  read(i, 1, &v);
  return v;
}

Tokens Tokens::slice(int64_t begin, int64_t end) const {
  if (begin < 0 || end < begin || end > size_)
    throw std::out_of_range("Tokens::slice: bad range");
  Tokens t;
  t.width_ = width_;
  t.owners_ = owners_;
  for (const Piece& p : pieces_) {
    const int64_t b = std::max(begin, p.begin), e = std::min(end, p.begin + p.size);
    if (b >= e) continue;
    const int64_t skip = (b - p.begin) * width_;
    t.pieces_.push_back({p.data ? p.data + skip : nullptr, p.file,
                         p.file_offset + static_cast<uint64_t>(p.data ? 0 : skip), b - begin, e - b});
  }
  t.size_ = end - begin;
  return t;
}

void Tokens::for_each_block(const std::function<void(const std::byte*, size_t)>& fn) const {
  std::vector<std::byte> buf;
  for (const Piece& p : pieces_) {
    const uint64_t bytes = static_cast<uint64_t>(p.size * width_);
    if (p.data) {
      fn(p.data, bytes);
      continue;
    }
    buf.resize(std::min<uint64_t>(bytes, uint64_t{1} << 22));
    for (uint64_t at = 0; at < bytes; at += buf.size()) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), bytes - at));
      p.file->read(p.file_offset + at, n, buf.data());
      fn(buf.data(), n);
    }
  }
}

}  // namespace plait::data
