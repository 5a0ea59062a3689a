#include "data/tokens.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

namespace plait::data {

MappedFile::MappedFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw UsageError("token file '" + path + "' cannot be opened: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw UsageError("token file '" + path + "' cannot be read: " + std::strerror(errno));
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    addr_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (addr_ == MAP_FAILED) {
      addr_ = nullptr;
      ::close(fd);
      throw UsageError("token file '" + path + "' cannot be mapped: " + std::strerror(errno));
    }
    ::madvise(addr_, size_, MADV_RANDOM);
  }
  ::close(fd);  // the mapping keeps the file
}

MappedFile::~MappedFile() {
  if (addr_) ::munmap(addr_, size_);
}

Tokens Tokens::one(const void* data, int64_t n, int width, std::shared_ptr<const void> owner) {
  Tokens t;
  t.width_ = width;
  t.size_ = n;
  if (n > 0) t.pieces_.push_back({static_cast<const std::byte*>(data), 0, n});
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
Tokens Tokens::from_file(std::shared_ptr<const MappedFile> f, int width) {
  if (width != 1 && width != 2 && width != 4)
    throw std::invalid_argument("Tokens::from_file: width must be 1, 2 or 4");
  const int64_t n = static_cast<int64_t>(f->size()) / width;
  return one(f->data(), n, width, f);
}

Tokens Tokens::concat(const std::vector<Tokens>& parts) {
  Tokens t;
  bool first = true;
  for (const Tokens& p : parts) {
    if (p.empty()) continue;
    if (first) t.width_ = p.width_, first = false;
    if (p.width_ != t.width_) throw std::invalid_argument("Tokens::concat: widths differ");
    for (const Piece& q : p.pieces_) t.pieces_.push_back({q.data, t.size_ + q.begin, q.size});
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
  for (; n > 0; ++it) {
    const int64_t off = begin - it->begin;
    const int64_t take = std::min(n, it->size - off);
    widen(it->data + off * width_, width_, take, out);
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
    if (b < e) t.pieces_.push_back({p.data + (b - p.begin) * width_, b - begin, e - b});
  }
  t.size_ = end - begin;
  return t;
}

std::vector<std::span<const std::byte>> Tokens::pieces() const {
  std::vector<std::span<const std::byte>> out;
  for (const Piece& p : pieces_) out.emplace_back(p.data, static_cast<size_t>(p.size * width_));
  return out;
}

}  // namespace plait::data
