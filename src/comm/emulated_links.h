// Emulated links of the threads transport: each rank has one network port, with an
// egress side (what it sends) and an ingress side (what it receives); a message of m
// bytes occupies both ports for link.seconds(m) = α + m/bw of its link class (intra-
// when both ranks share a node, inter- otherwise). This is exactly the α-β model of
// plan/collective_cost.h, so measured times can be compared with its predictions.
//
//   depart(src, dst, m)   when the message is posted: it leaves once src's egress port
//                         is free; returns the time its last byte left (t_sent).
//   arrive(dst, src, m, t_sent)
//                         when the receiver takes it (in the order the algorithm takes
//                         its messages): it is in once it has left and dst's ingress
//                         port has carried it after the previous one; returns t_in.
//
// The receiver copies the bytes at once and then sleeps until t_in, so the emulated
// time and the real copy overlap: a transfer costs max(real, emulated).
#pragma once
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "util/link.h"

namespace plait::comm {

class EmulatedLinks {
 public:
  using Clock = std::chrono::steady_clock;

  // ranks_per_node <= 0: every rank on one node.
  EmulatedLinks(int world, int ranks_per_node, LinkSpec intra, LinkSpec inter);

  bool enabled() const { return enabled_; }
  int node_of(int world_rank) const { return world_rank / ranks_per_node_; }
  const LinkSpec& link(int a, int b) const { return node_of(a) == node_of(b) ? intra_ : inter_; }

  Clock::time_point depart(int src, int dst, std::size_t bytes);
  Clock::time_point arrive(int dst, int src, std::size_t bytes, Clock::time_point sent);

 private:
  struct Port {
    std::mutex m;
    Clock::time_point free_at{};
  };
  Clock::duration duration(int a, int b, std::size_t bytes) const;

  int ranks_per_node_;
  LinkSpec intra_, inter_;
  bool enabled_;
  std::vector<std::unique_ptr<Port>> egress_, ingress_;
};

}  // namespace plait::comm
