#include "plan/layout.h"

namespace plait::plan {

const char* to_string(Recompute r) {
  switch (r) {
    case Recompute::none:
      return "no";
    case Recompute::selective:
      return "selective";
    case Recompute::full:
      return "full";
  }
  return "?";
}

std::string family(const Layout& l) {
  std::string f;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!f.empty()) f.push_back('+');
    f.append(name);
  };
  add(l.dp > 1, "data");
  add(l.tp > 1, "tensor");
  add(l.pp > 1, "pipeline");
  return f.empty() ? "one device" : f;
}

}  // namespace plait::plan
