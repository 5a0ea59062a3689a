// The named primitive steps the collectives are written in (after NCCL's runRing):
//
//   send(peer, step, data)          post data to peer
//   recv_copy(peer, step, dst)      post a receive that copies into dst
//   recv_reduce(peer, step, dst)    post a receive that adds into dst (dst += message)
//   send_back(peer, step, data)     post data to peer, lending it for the sums
//   recv_reduce_back(peer, step, dst)  post a receive that adds into dst and writes the
//                                   sums back over the sender's data (where sums_back())
//   wait()                          complete everything posted: the receives in the
//                                   order they were posted (so the sums happen in that
//                                   order, whatever the arrival order), then the sends
//   send_recv_reduce / send_recv_copy   one send, one receive, wait: a ring step
//
// A Primitives object is one collective call on one rank: it takes the group's next
// sequence number, and tags every message with (sequence number, operation, step),
// so that messages of different calls, or of different steps of one call, never match. An
// algorithm numbers its steps so that both ends of a message agree on the step.
// Waiting for receives before sends is what makes the threads transport (where a
// send completes only when its receiver has taken it) free of deadlock.
#pragma once
#include <cstdint>
#include <vector>

#include "comm/group.h"
#include "comm/transport.h"

namespace plait::comm {

class Primitives {
 public:
  Primitives(Group& group, const char* name, DType dtype);
  ~Primitives();
  Primitives(const Primitives&) = delete;
  Primitives& operator=(const Primitives&) = delete;

  int rank() const { return t_.rank(); }
  int size() const { return t_.size(); }
  const OpLabel& label() const { return op_; }
  // Whether the transport can return sums to the sender (Transport::sums_back).
  bool sums_back() const { return t_.sums_back(); }

  void send(int peer, int step, ConstBytes data);
  void recv_copy(int peer, int step, Bytes dst);
  void recv_reduce(int peer, int step, Bytes dst);
  void send_back(int peer, int step, Bytes data);
  void recv_reduce_back(int peer, int step, Bytes dst);
  void wait();

  void send_recv_reduce(int to, ConstBytes out, int from, Bytes acc, int step);
  void send_recv_copy(int to, ConstBytes out, int from, Bytes dst, int step);
  // send_recv_reduce, with `out` lent to `to` (which returns its sums into it) and the
  // sums of `acc` returned to `from`.
  void send_recv_reduce_back(int to, Bytes out, int from, Bytes acc, int step);

 private:
  // (sequence number, a hash of the operation's name, step): a rank that skipped a
  // collective is a sequence number behind, and its next collective's messages
  // must not match this one's.
  std::uint64_t tag(int step) const {
    return (op_.seq << 32) | (name_code_ << 24) | (static_cast<std::uint32_t>(step) & 0xffffff);
  }

  Transport& t_;
  OpLabel op_;
  DType dtype_;
  std::uint64_t name_code_;
  std::vector<Request> recvs_, sends_;
};

// A buffer cut into `parts` chunks along shard_of (whole elements of `elem` bytes).
class Chunks {
 public:
  Chunks(Bytes data, std::size_t elem, int parts);
  int size() const { return parts_; }
  Bytes operator[](int i) const;

 private:
  Bytes data_;
  std::size_t elem_;
  int parts_;
};

}  // namespace plait::comm
