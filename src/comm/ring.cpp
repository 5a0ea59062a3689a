#include "comm/ring.h"

#include <algorithm>

namespace plait::comm {
namespace {

// Allgather steps 0 .. steps-1 (ring.h): send chunk (i-s), copy chunk (i-s-1).
void allgather_steps(Primitives& p, const Ring& ring, const Chunks& chunks, int first_step,
                     int steps) {
  for (int s = 0; s < steps; ++s)
    p.send_recv_copy(ring.right(), chunks[ring.chunk(-s)], ring.left(), chunks[ring.chunk(-s - 1)],
                     first_step + s);
}

}  // namespace

Ring make_ring(std::vector<int> ranks, int me) {
  Ring r;
  r.me = static_cast<int>(std::find(ranks.begin(), ranks.end(), me) - ranks.begin());
  r.ranks = std::move(ranks);
  return r;
}

void ring_reduce_scatter(Primitives& p, const Ring& ring, const Chunks& chunks, int first_step) {
  for (int s = 0; s + 1 < ring.n(); ++s)
    p.send_recv_reduce(ring.right(), chunks[ring.chunk(-s - 1)], ring.left(),
                       chunks[ring.chunk(-s - 2)], first_step + s);
}

void ring_allgather(Primitives& p, const Ring& ring, const Chunks& chunks, int first_step) {
  allgather_steps(p, ring, chunks, first_step, ring.n() - 1);
}

void ring_allreduce(Primitives& p, const Ring& ring, const Chunks& chunks, int first_step) {
  const int n = ring.n();
  if (n < 2) return;
  if (!p.sums_back()) {
    ring_reduce_scatter(p, ring, chunks, first_step);
    ring_allgather(p, ring, chunks, first_step + n);
    return;
  }
  for (int s = 0; s + 2 < n; ++s)
    p.send_recv_reduce(ring.right(), chunks[ring.chunk(-s - 1)], ring.left(),
                       chunks[ring.chunk(-s - 2)], first_step + s);
  // Last step: the right neighbour finishes chunk i+1 and returns it into ours; we
  // finish chunk i and return it to the left neighbour.
  p.send_recv_reduce_back(ring.right(), chunks[ring.chunk(1)], ring.left(), chunks[ring.chunk(0)],
                          first_step + n - 2);
  allgather_steps(p, ring, chunks, first_step + n, n - 2);
}

}  // namespace plait::comm
