#include "model/recompute.h"

#include "util/error.h"

namespace plait {

const char* to_string(Recompute r) {
  switch (r) {
    case Recompute::none: return "none";
    case Recompute::selective: return "selective";
    case Recompute::block: return "block";
  }
  return "?";
}

Recompute parse_recompute(const std::string& text, const std::string& flag) {
  for (Recompute r : {Recompute::none, Recompute::selective, Recompute::block})
    if (text == to_string(r)) return r;
  throw UsageError(flag + " must be none, selective or block, got '" + text + "'");
}

}  // namespace plait
