// Broadcast by binomial tree.
//
// Ranks are renumbered relative to the root (v = rank - root mod p). Rank v receives
// the buffer from v minus its lowest set bit (its parent), then sends it to v + 2^j
// for each 2^j below that bit, largest first (its children). The root has bit log2 p
// "set". The buffer reaches everyone in ceil(log2 p) steps; every message is the
// whole buffer. With the threads transport the children copy straight out of their
// parent's buffer.
#include "comm/collectives.h"
#include "comm/primitives.h"
#include "util/error.h"

namespace plait::comm {

void broadcast(Group& group, Bytes data, int root) {
  Primitives p(group, "broadcast", DType::f32);
  const int n = p.size();
  if (root < 0 || root >= n)
    throw UsageError("broadcast on group '" + group.name() + "': root " + std::to_string(root) +
                     " is not a rank of the group");
  if (n == 1) return;
  const int v = (p.rank() - root + n) % n;
  auto real = [&](int u) { return (u + root) % n; };
  int bit = 1;
  while (bit < n && !(v & bit)) bit <<= 1;
  if (v != 0) {
    p.recv_copy(real(v - bit), 0, data);
    p.wait();
  }
  for (int child = bit >> 1; child > 0; child >>= 1)
    if (v + child < n) p.send(real(v + child), 0, data);
  p.wait();
}

}  // namespace plait::comm
