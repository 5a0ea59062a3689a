#include "util/page_pool.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "util/error.h"
#include "util/pages.h"

namespace plait {
namespace {

std::uintptr_t page_size() {
  static const std::uintptr_t size = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

// The whole pages inside `w`: [first, second), empty when none.
std::pair<std::uintptr_t, std::uintptr_t> inner_pages(std::span<float> w) {
  const std::uintptr_t ps = page_size();
  const auto b = reinterpret_cast<std::uintptr_t>(w.data());
  const auto e = b + w.size_bytes();
  const std::uintptr_t ib = (b + ps - 1) / ps * ps, ie = e / ps * ps;
  return ib < ie ? std::pair{ib, ie} : std::pair{ib, ib};
}

// Zeroes the floats of `w` outside its whole pages [ib, ie).
void zero_edges(std::span<float> w, std::uintptr_t ib, std::uintptr_t ie) {
  float* lo = reinterpret_cast<float*>(ib);
  float* hi = reinterpret_cast<float*>(ie);
  std::fill(w.data(), lo, 0.0f);
  std::fill(hi, w.data() + w.size(), 0.0f);
}

}  // namespace

PagePool::PagePool(std::size_t cap_bytes, bool zeroed, std::size_t slot_bytes)
    : cap_(cap_bytes / page_size() * page_size()),
      slot_bytes_((slot_bytes + page_size() - 1) / page_size() * page_size()),
      zeroed_(zeroed) {
  fd_ = ::memfd_create("plait-page-pool", MFD_CLOEXEC);
  if (fd_ < 0) cap_ = 0;  // no pool: every lend refuses, the callers take the slow path
}

PagePool::~PagePool() {
  for (Slot& s : slots_) {
    if (!s.at) continue;
    std::vector<char> keep(s.len);  // the window's floats survive the pool
    std::memcpy(keep.data(), reinterpret_cast<void*>(s.at), s.len);
    try {
      map_anonymous(s.at, s.len);
    } catch (const RuntimeError&) {
      continue;  // left mapped to the memfd, which the mapping keeps alive
    }
    std::memcpy(reinterpret_cast<void*>(s.at), keep.data(), s.len);
  }
  if (fd_ >= 0) ::close(fd_);
}

void PagePool::reserve() {
  std::lock_guard lock(m_);
  if (fd_ < 0 || slot_bytes_ == 0 || size_ + slot_bytes_ > cap_) return;
  const std::size_t n = (cap_ - size_) / slot_bytes_, want = size_ + n * slot_bytes_;
  // fallocate allocates the pages (it also sets the size); ftruncate alone leaves them
  // to the first lend
  if (::fallocate(fd_, 0, 0, static_cast<off_t>(want)) != 0 &&
      ::ftruncate(fd_, static_cast<off_t>(want)) != 0)
    return;
  for (std::size_t i = 0; i < n; ++i) slots_.push_back({size_ + i * slot_bytes_, slot_bytes_});
  size_ = want;
}

void PagePool::map_anonymous(std::uintptr_t at, std::size_t len) {
  void* p = ::mmap(reinterpret_cast<void*>(at), len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (p == MAP_FAILED)
    throw RuntimeError(std::string("page pool: cannot map anonymous memory back over a window: ") +
                       std::strerror(errno));
}

bool PagePool::lend(std::span<float> window) {
  const auto [ib, ie] = inner_pages(window);
  const std::size_t len = ie - ib;
  if (len == 0) return false;
  std::lock_guard lock(m_);
  Slot* best = nullptr;
  for (Slot& s : slots_) {
    if (s.at && s.at < ie && ib < s.at + s.len) return false;  // overlaps a lent window
    if (!s.at && s.bytes >= len && (!best || s.bytes < best->bytes)) best = &s;
  }
  if (!best) {
    const std::size_t cut = std::max(len, slot_bytes_);
    if (fd_ < 0 || size_ + cut > cap_ || ::ftruncate(fd_, static_cast<off_t>(size_ + cut)) != 0)
      return false;
    slots_.push_back({size_, cut});
    size_ += cut;
    best = &slots_.back();
  }
  void* p = ::mmap(reinterpret_cast<void*>(ib), len, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_FIXED | MAP_POPULATE, fd_, static_cast<off_t>(best->offset));
  if (p == MAP_FAILED) {
    map_anonymous(ib, len);  // a failed MAP_FIXED may have unmapped part of the window
    return false;
  }
  best->at = ib;
  best->len = len;
  ++lends_;
  return true;
}

bool PagePool::give_back(std::span<float> window) {
  const auto [ib, ie] = inner_pages(window);
  Slot* slot = nullptr;
  {
    std::lock_guard lock(m_);
    for (Slot& s : slots_)
      if (s.at == ib && s.len == ie - ib && ie > ib) slot = &s;
  }  // still lent (at != 0) while it is zeroed and unmapped: no lend takes it
  if (!slot) {
    pages::release(window);
    return false;
  }
  zero_edges(window, ib, ie);
  if (zeroed_) std::memset(reinterpret_cast<void*>(ib), 0, ie - ib);  // the slot's pages
  map_anonymous(ib, ie - ib);
  std::lock_guard lock(m_);
  slot->at = slot->len = 0;
  return true;
}

bool PagePool::lendable(std::span<const float> window) {
  const auto [ib, ie] = inner_pages({const_cast<float*>(window.data()), window.size()});
  return ie > ib;
}

std::size_t PagePool::bytes() const {
  std::lock_guard lock(m_);
  return size_;
}

std::size_t PagePool::lent_bytes() const {
  std::lock_guard lock(m_);
  std::size_t n = 0;
  for (const Slot& s : slots_) n += s.len;
  return n;
}

std::size_t PagePool::lends() const {
  std::lock_guard lock(m_);
  return lends_;
}

}  // namespace plait
