#include "cli/registry.h"

#include "cli/flag_ranges.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace plait::cli {
namespace {
std::vector<std::pair<std::string, Adder>>& adders() {
  static std::vector<std::pair<std::string, Adder>> list;
  return list;
}
}  // namespace

Registrar::Registrar(std::string name, Adder add) {
  adders().emplace_back(std::move(name), std::move(add));
}

void add_all_commands(Context& ctx) {
  auto& list = adders();
  std::sort(list.begin(), list.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [name, add] : list) add(ctx);
  apply_flag_ranges(ctx.root);  // every numeric flag's range, checked before conversion
}

}  // namespace plait::cli
