#include "comm/primitives.h"

#include "comm/collectives.h"

namespace plait::comm {

namespace {

std::uint64_t name_code(const char* name) {  // FNV-1a, folded to 8 bits
  std::uint32_t h = 2166136261u;
  for (const char* c = name; *c; ++c) h = (h ^ static_cast<unsigned char>(*c)) * 16777619u;
  return (h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24)) & 0xff;
}

}  // namespace

Primitives::Primitives(Group& group, const char* name, DType dtype)
    : t_(group.transport()),
      op_{name, group.next_seq(), true},
      dtype_(dtype),
      name_code_(name_code(name)) {}

// Requests still posted when an exception unwinds are withdrawn by their destructors.
Primitives::~Primitives() = default;

void Primitives::send(int peer, int step, ConstBytes data) {
  sends_.push_back(t_.isend(peer, tag(step), data));
}

void Primitives::recv_copy(int peer, int step, Bytes dst) {
  recvs_.push_back(t_.irecv(peer, tag(step), dst, Arrive::copy, dtype_));
}

void Primitives::recv_reduce(int peer, int step, Bytes dst) {
  recvs_.push_back(t_.irecv(peer, tag(step), dst, Arrive::sum, dtype_));
}

void Primitives::send_back(int peer, int step, Bytes data) {
  sends_.push_back(t_.isend_back(peer, tag(step), data));
}

void Primitives::recv_reduce_back(int peer, int step, Bytes dst) {
  recvs_.push_back(t_.irecv(peer, tag(step), dst, Arrive::sum_back, dtype_));
}

void Primitives::wait() {
  for (Request& r : recvs_) t_.wait(r, op_);
  for (Request& r : sends_) t_.wait(r, op_);
  recvs_.clear();
  sends_.clear();
}

void Primitives::send_recv_reduce(int to, ConstBytes out, int from, Bytes acc, int step) {
  send(to, step, out);
  recv_reduce(from, step, acc);
  wait();
}

void Primitives::send_recv_copy(int to, ConstBytes out, int from, Bytes dst, int step) {
  send(to, step, out);
  recv_copy(from, step, dst);
  wait();
}

void Primitives::send_recv_reduce_back(int to, Bytes out, int from, Bytes acc, int step) {
  send_back(to, step, out);
  recv_reduce_back(from, step, acc);
  wait();
}

Chunks::Chunks(Bytes data, std::size_t elem, int parts) : data_(data), elem_(elem), parts_(parts) {}

Bytes Chunks::operator[](int i) const {
  const Shard s = shard_of(data_.size() / elem_, parts_, i);
  return data_.subspan(s.offset * elem_, s.count * elem_);
}

Shard shard_of(std::size_t count, int parts, int i) {
  const std::size_t p = static_cast<std::size_t>(parts), k = static_cast<std::size_t>(i);
  const std::size_t base = count / p, extra = count % p;
  return {k * base + std::min(k, extra), base + (k < extra ? 1 : 0)};
}

}  // namespace plait::comm
