// The smallest of one int64 over a group's ranks (an allgather of 8 bytes per rank):
// naming the first non-finite tensor when each rank holds part of the model.
#pragma once
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "comm/collectives.h"
#include "comm/group.h"

namespace plait {

inline int64_t min_over(comm::Group& g, int64_t v) {
  std::vector<int64_t> all(static_cast<size_t>(g.size()));
  comm::allgather_bytes(g, std::as_bytes(std::span<const int64_t>(&v, 1)),
                        std::as_writable_bytes(std::span<int64_t>(all)));
  return *std::min_element(all.begin(), all.end());
}

}  // namespace plait
