#include "util/pages.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace plait::pages {
namespace {

std::uintptr_t page_size() {
  static const std::uintptr_t size = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

}  // namespace

std::size_t page_bytes() { return page_size(); }

void release(std::span<float> range) {
  if (range.empty()) return;
  const std::uintptr_t ps = page_size();
  const auto begin = reinterpret_cast<std::uintptr_t>(range.data());
  const auto end = begin + range.size_bytes();
  const std::uintptr_t inner_begin = (begin + ps - 1) / ps * ps, inner_end = end / ps * ps;
  if (inner_end <= inner_begin) {  // no whole page inside
    std::fill(range.begin(), range.end(), 0.0f);
    return;
  }
  std::fill(range.data(), reinterpret_cast<float*>(inner_begin), 0.0f);
  std::fill(reinterpret_cast<float*>(inner_end), range.data() + range.size(), 0.0f);
  // MADV_DONTNEED cannot fail on a mapped, page-aligned private range; if it did, the
  // pages would merely stay resident, so they are zeroed by hand instead.
  if (::madvise(reinterpret_cast<void*>(inner_begin), inner_end - inner_begin, MADV_DONTNEED) != 0)
    std::fill(reinterpret_cast<float*>(inner_begin), reinterpret_cast<float*>(inner_end), 0.0f);
}

std::size_t resident_bytes(std::span<const float> range) {
  if (range.empty()) return 0;
  const std::uintptr_t ps = page_size();
  const auto begin = reinterpret_cast<std::uintptr_t>(range.data());
  const auto end = begin + range.size_bytes();
  const std::uintptr_t first = begin / ps * ps;
  const std::size_t n = (end - first + ps - 1) / ps;
  std::vector<unsigned char> in(n);
  if (::mincore(reinterpret_cast<void*>(first), end - first, in.data()) != 0) return range.size_bytes();
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!(in[i] & 1)) continue;
    const std::uintptr_t lo = std::max(begin, first + i * ps), hi = std::min(end, first + (i + 1) * ps);
    bytes += hi - lo;
  }
  return bytes;
}

}  // namespace plait::pages
