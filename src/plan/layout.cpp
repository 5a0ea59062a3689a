#include "plan/layout.h"

#include "util/error.h"

namespace plait::plan {

const char* to_string(Schedule s) { return s == Schedule::gpipe ? "gpipe" : "1f1b"; }

Schedule parse_schedule(const std::string& name) {
  if (name == "gpipe") return Schedule::gpipe;
  if (name == "1f1b") return Schedule::one_f_one_b;
  throw UsageError("unknown schedule '" + name + "' (expected gpipe or 1f1b)");
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
