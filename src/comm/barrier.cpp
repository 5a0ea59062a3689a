// Dissemination barrier: in round j (j = 0 .. ceil(log2 p)-1) rank i sends an empty
// message to rank i + 2^j and waits for one from rank i - 2^j. After the last round
// every rank has heard, directly or through others, from every rank, so none leaves
// before all have entered.
#include "comm/collectives.h"
#include "comm/primitives.h"

namespace plait::comm {

void barrier(Group& group) {
  Primitives p(group, "barrier", DType::f32);
  const int n = p.size(), me = p.rank();
  for (int j = 0, d = 1; d < n; ++j, d *= 2) {
    p.send((me + d) % n, j, {});
    p.recv_copy((me - d + n) % n, j, {});
    p.wait();
  }
}

}  // namespace plait::comm
