// Ring phases, shared by the ring allreduce, the hierarchical allreduce (rings inside
// a node and across nodes), reduce-scatter and allgather.
//
// A Ring lists group ranks in ring order; position i sends to position i+1 (right)
// and receives from position i-1 (left). The data is cut into n = ring size chunks;
// position i owns chunk i at the end of a reduce-scatter and at the start of an
// allgather.
//
//   reduce-scatter, steps s = 0 .. n-2:  send chunk (i-s-1) to the right and add the
//     chunk (i-s-2) arriving from the left into ours. Chunk c thus starts at position
//     c+1 and gathers one addend per hop: x[c+1] + x[c+2] + ... + x[c], a fixed order.
//   allgather, steps s = 0 .. n-2:  send chunk (i-s) to the right, copy chunk (i-s-1)
//     arriving from the left.
//
// Each step moves one chunk per link, all links at once: n-1 steps of size/n bytes.
//
// ring_allreduce is the two phases back to back. Where the transport can return sums
// into the sender's memory (Transport::sums_back: the threads backend), its last
// reduce-scatter step does: position i, finishing chunk i from its left neighbour's
// partial sum, writes the total back over that partial in the same pass, so the left
// neighbour ends the reduce-scatter holding chunks i-1 and i, and the allgather needs
// only n-2 steps (send chunk i-s, take chunk i-s-1). Same sums in the same order (the
// total is copied, never re-added); with 2 ranks the allreduce is one step, in which
// each rank reads and writes its half of both buffers once: the fewest memory passes
// an allreduce can make.
#pragma once
#include <vector>

#include "comm/primitives.h"

namespace plait::comm {

struct Ring {
  std::vector<int> ranks;  // group ranks in ring order
  int me = 0;              // this rank's position
  int n() const { return static_cast<int>(ranks.size()); }
  int right() const { return ranks[(me + 1) % n()]; }
  int left() const { return ranks[(me + n() - 1) % n()]; }
  int chunk(int offset) const { return ((me + offset) % n() + n()) % n(); }
};

// The ring of `ranks` (in that order) as seen by group rank `me` (one of them).
Ring make_ring(std::vector<int> ranks, int me);

// Tags use steps first_step .. first_step + ring.n() - 2.
void ring_reduce_scatter(Primitives& p, const Ring& ring, const Chunks& chunks, int first_step);
void ring_allgather(Primitives& p, const Ring& ring, const Chunks& chunks, int first_step);
// Tags use steps first_step .. first_step + 2 ring.n() - 3.
void ring_allreduce(Primitives& p, const Ring& ring, const Chunks& chunks, int first_step);

}  // namespace plait::comm
