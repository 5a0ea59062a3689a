// Reusable physical pages for windows of a sharded arena (Linux: memfd, mmap MAP_FIXED).
//
// ZeRO-2/3 keep an arena's full virtual size but hold in memory only the rank's shard
// plus the windows in use: a gradient bucket between the backward pass writing it and
// its reduction, a unit of parameters between its gather and its release. Returning a
// window's pages to the OS after each use (pages::release) and faulting fresh ones in
// at the next use costs a page fault, a zeroing and, in a VM, often a host exit per
// 4 KiB page: measured ~10 µs per page here, 25-40 ms per 12.8 MB per step. A PagePool
// instead lends a window pages it keeps: lend() maps one of its slots (a range of a
// memfd, populated once) over the whole pages of the window in one mmap(MAP_FIXED |
// MAP_SHARED | MAP_POPULATE); give_back() maps fresh anonymous memory over them again
// (the window reads zero and holds nothing) and the slot, still populated, waits for
// the next window. The window's partial pages at each edge stay in the arena.
//
// Memory: the pool grows on demand (or at once: reserve()), one slot (of at least
// `slot_bytes`) per window lent at once, up to `cap` bytes; past it lend() refuses and the window simply takes fresh pages (the slow
// path, correct). bytes() is what the pool holds, lent or free: the most bytes ever
// lent at once (counted separately from the arena's resident pages between steps).
//
// Contents: a `zeroed` pool hands out pages that read zero (give_back zeroes the slot
// first: gradients accumulate into them); otherwise a lent window holds stale floats
// (parameters: the gather overwrites every float of the window).
//
// Rules: lend only a window whose pages hold nothing the caller needs (they are
// replaced); give back exactly the window lent; windows lent at once must not overlap
// (lend refuses an overlapping one). lend and give_back may be called from different
// threads. The arena must outlive the pool; the destructor gives every lent window
// anonymous memory back with its contents.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <vector>

namespace plait {

class PagePool {
 public:
  // `slot_bytes`: the least a new slot is cut to (the largest window expected), so
  // that every slot fits every window and none goes unused for being too small.
  PagePool(std::size_t cap_bytes, bool zeroed, std::size_t slot_bytes = 0);
  ~PagePool();
  PagePool(const PagePool&) = delete;
  PagePool& operator=(const PagePool&) = delete;

  // Cuts now as many slots of `slot_bytes` as the cap holds, their pages allocated, so
  // that bytes() is the cap from the start rather than the most windows the timing of
  // the callers ever made lent at once (what a memory plan can count on).
  void reserve();
  // Backs the whole pages of `window` with a slot; false (nothing changed) when it has
  // no whole page, overlaps a lent window, or the pool is at its cap.
  bool lend(std::span<float> window);
  // Sets every float of `window` to 0 and frees its memory: a lent window's slot
  // returns to the pool (true); any other window is released as pages::release does
  // (false).
  bool give_back(std::span<float> window);
  // Whether `window` holds a whole page (else lend() refuses it).
  static bool lendable(std::span<const float> window);
  std::size_t bytes() const;       // the pool's slots, lent or free
  std::size_t lent_bytes() const;  // lent now
  std::size_t lends() const;       // windows lent, all time

 private:
  struct Slot {
    std::size_t offset = 0, bytes = 0;  // in the memfd
    std::uintptr_t at = 0, len = 0;     // lent: the window's whole pages; 0: free
  };
  void map_anonymous(std::uintptr_t at, std::size_t len);

  int fd_ = -1;
  std::size_t cap_, slot_bytes_, size_ = 0, lends_ = 0;
  bool zeroed_;
  std::deque<Slot> slots_;  // stable addresses: give_back holds one unlocked
  mutable std::mutex m_;
};

}  // namespace plait
