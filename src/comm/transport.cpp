#include "comm/transport.h"

#include "util/error.h"

namespace plait::comm {

Request Transport::isend_back(int, std::uint64_t, Bytes) {
  throw RuntimeError("group '" + name() +
                     "': this transport cannot return sums into a sender's buffer");
}

}  // namespace plait::comm
