#include "comm/emulated_links.h"

#include <algorithm>

namespace plait::comm {
namespace {

bool emulates(const LinkSpec& l) { return l.latency_s > 0 || l.bandwidth_Bps > 0; }

}  // namespace

EmulatedLinks::EmulatedLinks(int world, int ranks_per_node, LinkSpec intra, LinkSpec inter)
    : ranks_per_node_(ranks_per_node > 0 ? ranks_per_node : std::max(world, 1)),
      intra_(intra),
      inter_(inter),
      enabled_(emulates(intra) || emulates(inter)) {
  for (int r = 0; r < world; ++r) {
    egress_.push_back(std::make_unique<Port>());
    ingress_.push_back(std::make_unique<Port>());
  }
}

EmulatedLinks::Clock::duration EmulatedLinks::duration(int a, int b, std::size_t bytes) const {
  const double s = link(a, b).seconds(static_cast<double>(bytes));
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

EmulatedLinks::Clock::time_point EmulatedLinks::depart(int src, int dst, std::size_t bytes) {
  Port& port = *egress_[src];
  std::lock_guard lock(port.m);
  port.free_at = std::max(Clock::now(), port.free_at) + duration(src, dst, bytes);
  return port.free_at;
}

EmulatedLinks::Clock::time_point EmulatedLinks::arrive(int dst, int src, std::size_t bytes,
                                                       Clock::time_point sent) {
  Port& port = *ingress_[dst];
  std::lock_guard lock(port.m);
  port.free_at = std::max(sent, port.free_at + duration(src, dst, bytes));
  return port.free_at;
}

}  // namespace plait::comm
