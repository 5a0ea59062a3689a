// Physical memory of large float arenas, page by page (Linux: madvise, mincore).
//
// A sharded arena (ZeRO-2's gradients, ZeRO-3's parameters: parallel/zero.h) keeps its
// full virtual size so that the model's kernels address it as usual, but returns the
// pages outside the rank's shard to the operating system once they are no longer
// needed: release() zeroes the partial pages at the edges of the range and drops the
// whole pages inside it (MADV_DONTNEED on private anonymous memory: they read as zero
// when next touched, and take no memory until then). resident_bytes() measures what
// an arena holds in memory now (mincore), the figure docs/MEMORY.md reports.
#pragma once
#include <cstddef>
#include <span>

namespace plait::pages {

// The page size in bytes.
std::size_t page_bytes();
// Sets every float of `range` to 0, returning its whole pages to the OS.
void release(std::span<float> range);
// Bytes of `range` backed by resident pages (whole pages, clipped to the range).
std::size_t resident_bytes(std::span<const float> range);

}  // namespace plait::pages
