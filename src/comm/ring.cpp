#include "comm/ring.h"

#include <algorithm>

namespace plait::comm {

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
  for (int s = 0; s + 1 < ring.n(); ++s)
    p.send_recv_copy(ring.right(), chunks[ring.chunk(-s)], ring.left(), chunks[ring.chunk(-s - 1)],
                     first_step + s);
}

}  // namespace plait::comm
