#include "fault/supervisor.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "fault/checkpoint_names.h"
#include "util/error.h"

extern char** environ;

namespace plait::fault {
namespace fs = std::filesystem;
namespace {

volatile sig_atomic_t g_child = 0;
volatile sig_atomic_t g_stop = 0;

// SIGINT / SIGTERM to the supervisor: passed on to the child, and no restart after.
void forward(int sig) {
  g_stop = 1;
  if (g_child > 0) kill(static_cast<pid_t>(g_child), sig);
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string latest_checkpoint(const std::string& run_dir) {
  std::ifstream f(fs::path(run_dir) / ckpt::kLatest);
  std::string name;
  std::getline(f, name);
  return name;
}

// RUN_DIR/supervisor.json, rewritten whole (temporary file + rename) at each event.
class Record {
 public:
  Record(const std::string& run_dir, int max_restarts) : path_(fs::path(run_dir) / "supervisor.json") {
    std::ifstream f(path_);
    j_ = nlohmann::json::parse(f, nullptr, false);
    if (!j_.is_object()) j_ = {{"restarts", 0}, {"events", nlohmann::json::array()}};
    j_["max_restarts"] = max_restarts;
  }
  void event(nlohmann::json e) {
    e["time"] = unix_now();
    j_["events"].push_back(std::move(e));
    save();
  }
  void restarted() { j_["restarts"] = j_.value("restarts", 0) + 1; }

 private:
  void save() {
    const fs::path tmp = path_.string() + ".tmp";
    {
      std::ofstream f(tmp, std::ios::trunc);
      f << j_.dump(1) << '\n';
    }
    std::error_code ec;
    fs::rename(tmp, path_, ec);
  }
  fs::path path_;
  nlohmann::json j_;
};

pid_t start(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int err = posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (err != 0) throw RuntimeError("supervisor: cannot start '" + argv[0] + "'");
  return pid;
}

// "exit code 1" / "signal 9 (Killed)"; the code to end with if not restarted.
std::string ending(int status, int* code) {
  if (WIFEXITED(status)) {
    *code = WEXITSTATUS(status);
    return "exit code " + std::to_string(*code);
  }
  const int sig = WTERMSIG(status);
  *code = 1;
  return "signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
}

}  // namespace

int supervise(const SuperviseOptions& o) {
  setenv("PLAIT_SUPERVISED", "1", 1);  // the child trains instead of supervising
  struct sigaction sa = {};
  sa.sa_handler = forward;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  Record rec(o.run_dir, o.max_restarts);
  for (int attempt = 0;; ++attempt) {
    const std::vector<std::string>& argv = attempt == 0 ? o.argv : o.restart_argv;
    const pid_t pid = start(argv);
    g_child = pid;
    rec.event({{"event", "start"}, {"pid", pid}, {"attempt", attempt},
               {"checkpoint", latest_checkpoint(o.run_dir)}});
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    g_child = 0;
    int code = 1;
    const std::string how = ending(status, &code);
    rec.event({{"event", "end"}, {"pid", pid}, {"how", how}, {"code", code}});
    if (code == 0 || code == 2 || g_stop) return code;
    const std::string from = latest_checkpoint(o.run_dir);
    if (attempt >= o.max_restarts) {
      std::fprintf(stderr, "supervisor: the %s (pid %d) ended with %s; no restarts left (%d used)\n",
                   o.what.c_str(), static_cast<int>(pid), how.c_str(), attempt);
      return 1;
    }
    rec.restarted();
    std::fprintf(stderr, "supervisor: the %s (pid %d) ended with %s; restart %d of %d from %s\n",
                 o.what.c_str(), static_cast<int>(pid), how.c_str(), attempt + 1, o.max_restarts,
                 from.empty() ? "the start (no checkpoint yet)" : from.c_str());
  }
}

int recorded_restarts(const std::string& run_dir) {
  std::ifstream f(fs::path(run_dir) / "supervisor.json");
  const nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  return j.is_object() ? j.value("restarts", 0) : 0;
}

}  // namespace plait::fault
