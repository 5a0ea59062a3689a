#include "fault/memory_snapshot.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "fault/checkpoint_names.h"
#include "util/error.h"

namespace plait::fault {
namespace fs = std::filesystem;

std::string make_memory_snapshot_dir() {
  std::error_code ec;
  const fs::path base = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
  std::string tmpl = (base / "plait-snapshot-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr)  // mode 0700: the run's state is private
    throw RuntimeError("memory snapshots: cannot create a directory in " + base.string());
  return tmpl;
}

void remove_memory_snapshot_dir(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  fs::remove_all(dir, ec);
}

int64_t latest_step(const std::string& dir) {
  if (dir.empty()) return -1;
  std::ifstream f(fs::path(dir) / ckpt::kLatest);
  std::string name;
  int64_t step = -1;
  if (!std::getline(f, name) || !ckpt::parse_step_dir(name, step)) return -1;
  std::error_code ec;
  if (!fs::exists(fs::path(dir) / name / ckpt::kManifest, ec)) return -1;
  return step;
}

int64_t newest_snapshot_step(const std::string& dir) {
  if (dir.empty()) return -1;
  int64_t best = std::max(latest_step(dir), latest_step((fs::path(dir) / "peer").string()));
  std::map<int64_t, std::set<int>> pieces;  // step -> the ranks whose piece is there
  int world = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    int r = -1;
    if (std::sscanf(name.c_str(), "rank-%d", &r) != 1 && std::sscanf(name.c_str(), "copy-%d", &r) != 1)
      continue;
    const int64_t step = latest_step(e.path().string());
    if (step < 0) continue;
    pieces[step].insert(r);
    std::ifstream f(e.path() / ckpt::step_dir_name(step) / ckpt::kManifest);
    const auto j = nlohmann::json::parse(f, nullptr, false);
    if (j.is_object()) world = j.value("extra", nlohmann::json::object())
                                   .value("snapshot", nlohmann::json::object()).value("world", world);
  }
  for (const auto& [step, ranks] : pieces)
    if (world > 0 && static_cast<int>(ranks.size()) == world) best = std::max(best, step);
  return best;
}

}  // namespace plait::fault
