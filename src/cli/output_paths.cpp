#include "cli/output_paths.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "util/error.h"

namespace plait::cli {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& flag, const std::string& path, const std::string& why) {
  throw UsageError(flag + " '" + path + "': " + why);
}

// Creates `dir` and its parents (several MPI ranks may race to create the same
// directory: one that exists afterwards is success) and checks it is writable.
void make_writable_dir(const fs::path& dir, const std::string& flag, const std::string& path) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir))
    fail(flag, path, "cannot create directory '" + dir.string() + "'" +
                         (ec ? ": " + ec.message() : std::string(" (a file is in the way)")));
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    fail(flag, path, "directory '" + dir.string() + "' is not writable: " + std::strerror(errno));
}

}  // namespace

void prepare_output_file(const std::string& path, const std::string& flag) {
  if (path.empty()) return;
  const fs::path p(path);
  if (fs::is_directory(p)) fail(flag, path, "is a directory, not a file");
  const fs::path parent = p.parent_path();
  make_writable_dir(parent.empty() ? fs::path(".") : parent, flag, path);
  if (fs::exists(p) && ::access(p.c_str(), W_OK) != 0)
    fail(flag, path, std::string("not writable: ") + std::strerror(errno));
}

void prepare_output_dir(const std::string& dir, const std::string& flag) {
  if (dir.empty()) return;
  make_writable_dir(fs::path(dir), flag, dir);
}

}  // namespace plait::cli
