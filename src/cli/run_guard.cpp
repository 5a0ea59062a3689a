#include "cli/run_guard.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

#include <nlohmann/json.hpp>

#include "cli/train_flags.h"
#include "fault/checkpoint.h"
#include "fault/run_id.h"
#include "util/error.h"
#include "util/files.h"

namespace plait::cli {
namespace {

namespace fs = std::filesystem;
bool overwrite = false;  // --overwrite

std::string host_name() {
  char h[256] = {};
  ::gethostname(h, sizeof h - 1);
  return h;
}

// Whether `dir` holds a checkpoint of some run (committed step directories or latest).
bool holds_checkpoints(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir / "latest", ec)) return true;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename().string().rfind("step-", 0) == 0) return true;
  return false;
}

// The old run's checkpoints and records go; anything else in the directory stays.
void clear_run(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("step-", 0) == 0 || n.rfind(".tmp-", 0) == 0 || n.rfind(".trash-", 0) == 0 ||
        n.rfind(".spare-", 0) == 0 ||
        n == "latest" || n == "latest.tmp" || n == ".latest.spare" || n == ".latest.spare.old" ||
        n == ".parts" || n == "train.json")
      fs::remove_all(e.path());
  }
}

std::string new_run_id() {
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return buf;
}

// The run id a resumed run continues: its latest checkpoint's, else a new one.
std::string resumed_run_id(const fs::path& dir) {
  try {
    const fs::path ck = latest_checkpoint(dir);
    const auto m = nlohmann::json::parse(read_regular_file((ck / "manifest.json").string(),
                                                           "manifest", 64ull << 20));
    if (m.contains("run") && m["run"].is_string()) return m["run"].get<std::string>();
  } catch (const std::exception&) {
  }
  return new_run_id();
}

}  // namespace

void add_overwrite_flag(CLI::App* cmd) {
  cmd->add_flag("--overwrite", overwrite,
                "a new run (no --resume) may replace the checkpoints already in --checkpoint-dir");
}

RunGuard::RunGuard(const TrainOptions& opt) {
  if (opt.checkpoint_dir.empty()) return;
  const fs::path dir(opt.checkpoint_dir);
  if (first_process()) {
    const fs::path lock = dir / ".lock";
    fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd_ < 0)
      throw UsageError("--checkpoint-dir '" + opt.checkpoint_dir +
                       "': cannot create its lock file (not writable?): " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      char who[256] = {};
      (void)!::pread(fd_, who, sizeof who - 1, 0);
      std::string holder(who);
      while (!holder.empty() && holder.back() == '\n') holder.pop_back();
      ::close(fd_);
      fd_ = -1;
      throw UsageError("--checkpoint-dir '" + opt.checkpoint_dir + "' is in use by another run (" +
                       (holder.empty() ? std::string("holder unknown") : "pid host: " + holder) +
                       "; lock " + lock.string() + ")");
    }
    const std::string me = std::to_string(::getpid()) + " " + host_name() + "\n";
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size()))
      throw UsageError("--checkpoint-dir '" + opt.checkpoint_dir + "': cannot write its lock file: " +
                       std::strerror(errno));
    if (!opt.resume && holds_checkpoints(dir)) {
      if (!overwrite)
        throw UsageError("--checkpoint-dir '" + opt.checkpoint_dir +
                         "' holds the checkpoints of another run: --resume continues it, "
                         "--overwrite replaces it, or choose another directory");
      clear_run(dir);
    }
  }
  set_checkpoint_run_id(opt.resume ? resumed_run_id(dir) : new_run_id());
}

RunGuard::~RunGuard() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock; the file stays (harmless, reused)
}

}  // namespace plait::cli
