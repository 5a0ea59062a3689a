#include "fault/memory_snapshot.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

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

}  // namespace plait::fault
