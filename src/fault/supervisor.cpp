#include "fault/supervisor.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <nlohmann/json.hpp>

#include "fault/checkpoint_names.h"
#include "fault/hang_watch.h"
#include "fault/heartbeat.h"
#include "fault/memory_snapshot.h"
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
  void set(const char* key, nlohmann::json v) {
    j_[key] = std::move(v);
    save();
  }

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

// Why a running child counts as hung, or "": its heartbeat files (hang_watch.h), or,
// for a child stopped by a signal before it published any, how long it has been stopped
// (`stopped_at`: when waitpid last saw it stop, 0 when running).
std::string hang_of(const std::string& run_dir, double started_unix, double hang_s,
                    double stopped_at, int stop_sig) {
  std::string hung = hung_child_report(run_dir, started_unix, hang_s);
  const double limit = hang_s > 0 ? hang_s : kAutoBaseSeconds;
  if (hung.empty() && stopped_at > 0 && unix_now() - stopped_at > limit) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "hung: stopped by signal %d (%s) %.1f s ago (limit %.1f s), "
                  "before it published a heartbeat", stop_sig, strsignal(stop_sig),
                  unix_now() - stopped_at, limit);
    hung = buf;
  }
  return hung;
}

// Whether `pid` runs under `ancestor` (its parent, or a parent's parent, ...): a pid
// from a heartbeat file is killed only when it is still one of the child's processes.
// A process that has ended (a zombie not yet reaped) is not.
bool descends_from(long pid, pid_t ancestor) {
  for (int depth = 0; depth < 8 && pid > 1; ++depth) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');  // the command name may hold spaces
    if (close == std::string::npos) return false;
    char state = 0;
    long ppid = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %ld", &state, &ppid) != 2) return false;
    if (depth == 0 && (state == 'Z' || state == 'X')) return false;
    if (ppid == ancestor) return true;
    pid = ppid;
  }
  return false;
}

// Ends a hung child; returns when to SIGKILL the child itself (0: done already). A
// training process is killed at once. A launcher's ranks on this host are killed first
// (SIGKILL: stopped ones too), then the launcher gets SIGTERM to end the job (its ranks
// elsewhere) and kLauncherGraceSeconds before its own SIGKILL. Says what it killed.
// `all`: every rank process of the child still there, finished or not (a job that
// lingers after rank 0 ended); else the unfinished ones.
double end_hung_child(pid_t pid, const SuperviseOptions& o, double started_unix, bool all = false) {
  if (!o.child_is_launcher) {
    kill(pid, SIGKILL);
    std::fprintf(stderr, "supervisor: killed the %s (pid %d)\n", o.what.c_str(), static_cast<int>(pid));
    return 0;
  }
  std::string killed;
  for (long r : child_rank_pids(o.run_dir, started_unix, all)) {
    if (!descends_from(r, pid) || kill(static_cast<pid_t>(r), SIGKILL) != 0) continue;
    killed += (killed.empty() ? "" : ", ") + std::to_string(r);
  }
  kill(pid, SIGTERM);
  std::fprintf(stderr, "supervisor: killed the ranks on this host (pids %s) with SIGKILL and "
               "sent the %s (pid %d) SIGTERM (SIGKILL in %.0f s if it is still there)\n",
               killed.empty() ? "none found" : killed.c_str(), o.what.c_str(),
               static_cast<int>(pid), kLauncherGraceSeconds);
  return unix_now() + kLauncherGraceSeconds;
}

// Backup workers under mpirun's recovery flags (o.exit_dir): how long ago rank 0 ended
// (its exit code file), or a negative number while it runs. mpirun ends when its last
// rank does, so a job still running long after rank 0 ended holds a rank that rank 0
// dropped but whose process is stopped or stuck (a dead one would have ended).
double rank0_ended_ago(const std::string& exit_dir, double started_unix) {
  std::error_code ec;
  const fs::path f = fs::path(exit_dir) / "exit-rank-0";
  const auto t = fs::last_write_time(f, ec);
  if (ec) return -1;
  const double ago = std::chrono::duration<double>(fs::file_time_type::clock::now() - t).count();
  return unix_now() - ago >= started_unix ? ago : -1;
}

// Waits for the child to end. With o.hang_timeout_s >= 0 it also reads the child's
// heartbeat files every kPublishSeconds (hang_watch.h) and notes when the child is
// stopped by a signal (WUNTRACED): a hung child is reported (stderr and RUN_DIR/
// heartbeat/stalled.txt, which failure_of reads), ended (end_hung_child) and reaped;
// `hung` then holds the report. A backup-worker job still running kLauncherGraceSeconds
// after rank 0 ended is ended the same way, with no report (rank 0's exit code counts).
int wait_child(pid_t pid, const SuperviseOptions& o, double started_unix, std::string* hung) {
  const bool watch = o.hang_timeout_s >= 0;
  int status = 0, stop_sig = 0;
  double stopped_at = 0, kill_at = 0;  // kill_at: when the hung child gets SIGKILL
  bool ending = false;                 // hung, or lingering after rank 0's end
  for (;;) {
    const pid_t got = waitpid(pid, &status, watch ? WNOHANG | WUNTRACED | WCONTINUED : 0);
    if (got == pid && (WIFSTOPPED(status) || WIFCONTINUED(status))) {
      stopped_at = WIFSTOPPED(status) ? unix_now() : 0;
      stop_sig = WIFSTOPPED(status) ? WSTOPSIG(status) : 0;
      continue;
    }
    if (got == pid) return status;
    if (got < 0 && errno != EINTR) return status;
    if (got != 0 || !watch) continue;
    const timespec poll = {0, static_cast<long>(kPublishSeconds * 1e9)};
    nanosleep(&poll, nullptr);
    if (ending) {  // ended already: reap it, SIGKILL when its grace is over
      if (kill_at > 0 && unix_now() >= kill_at) {
        kill(pid, SIGKILL);
        kill_at = 0;
      }
      continue;
    }
    if (g_stop) continue;  // SIGINT/SIGTERM went to the child: wait for it to end
    const double ago = o.exit_dir.empty() ? -1 : rank0_ended_ago(o.exit_dir, started_unix);
    if (ago > kLauncherGraceSeconds) {  // not a failure: rank 0's exit code says how it went
      std::fprintf(stderr, "supervisor: rank 0 ended %.1f s ago and the %s (pid %d) still runs "
                   "(a rank it dropped is stopped or stuck); ending it\n", ago, o.what.c_str(),
                   static_cast<int>(pid));
      kill_at = end_hung_child(pid, o, started_unix, /*all=*/true);
      ending = true;
      continue;
    }
    *hung = hang_of(o.run_dir, started_unix, o.hang_timeout_s, stopped_at, stop_sig);
    if (hung->empty()) continue;
    std::fprintf(stderr, "supervisor: the %s (pid %d) is %s\n", o.what.c_str(),
                 static_cast<int>(pid), hung->c_str());
    if (std::FILE* f = std::fopen((fs::path(o.run_dir) / "heartbeat" / "stalled.txt").c_str(), "w")) {
      std::fprintf(f, "supervisor: the %s (pid %d) is %s\n", o.what.c_str(),
                   static_cast<int>(pid), hung->c_str());
      std::fclose(f);
    }
    kill_at = end_hung_child(pid, o, started_unix);
    ending = true;
  }
}

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

// The job's end as rank 0's recorded exit code says (o.exit_dir), when mpirun exited 0.
std::string rank0_ending(const std::string& exit_dir, int* code) {
  std::ifstream f(fs::path(exit_dir) / "exit-rank-0");
  int c = -1;
  if (!(f >> c) || c < 0) {
    *code = 1;
    return "no exit code from rank 0 (killed)";
  }
  *code = c;
  return "exit code " + std::to_string(c) + " (rank 0's)";
}

// Why the child failed, in one line: the failure it recorded, else the watchdog's
// report if this attempt wrote one, else how it ended.
std::string failure_of(const std::string& run_dir, const std::string& how,
                       fs::file_time_type started) {
  const fs::path hb = fs::path(run_dir) / "heartbeat";
  for (const char* name : {"failed.txt", "stalled.txt"}) {
    std::error_code ec;
    const auto t = fs::last_write_time(hb / name, ec);
    if (ec || t < started) continue;
    std::ifstream f(hb / name);
    std::string line;
    if (std::getline(f, line) && !line.empty()) return line;
  }
  return "ended with " + how;
}

// One line appended to the child's metrics log (no child runs meanwhile).
void log_event(const std::string& path, nlohmann::json e) {
  if (path.empty()) return;
  e["time"] = unix_now();
  std::ofstream f(path, std::ios::app);
  f << e.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

std::string times(int n) { return n == 2 ? "twice" : std::to_string(n) + " times"; }

// Heartbeat files of ranks a shrunk job no longer has (so `plait status` shows the
// ranks that exist).
void forget_ranks_from(const std::string& run_dir, int first) {
  const fs::path hb = fs::path(run_dir) / "heartbeat";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(hb, ec)) {
    const std::string name = e.path().filename().string();
    int r = -1;
    if (std::sscanf(name.c_str(), "rank-%d.json", &r) == 1 && r >= first) fs::remove(e.path(), ec);
  }
}

// Consecutive failures since the newest checkpoint changed; when they reach
// kShrinkAfter and the job can lose `unit` workers, it does.
class Elastic {
 public:
  explicit Elastic(const SuperviseOptions& o) : o_(o), workers_(o.workers) {}
  int workers() const { return workers_; }
  void set_workers(int n) { workers_ = n; }

  // After a failed attempt that started from checkpoint `from` and left `now`:
  // the new worker count when the job shrinks now, else 0.
  int after_failure(const std::string& from, const std::string& now) {
    stuck_ = now == from ? stuck_ + 1 : 1;
    if (o_.workers == 0 || stuck_ < kShrinkAfter || workers_ - o_.unit < o_.min_workers) return 0;
    stuck_ = 0;
    workers_ -= o_.unit;
    return workers_;
  }

 private:
  const SuperviseOptions& o_;
  int workers_;
  int stuck_ = 0;
};

// Growing back after a shrink (supervisor.h): which start is a try, and the shrunk
// child's --stop-after.
class Grow {
 public:
  explicit Grow(const SuperviseOptions& o) : o_(o) {}
  // The argv of a start from checkpoint step `from` on `workers`: a shrunk start stops
  // at the checkpoint boundary 2^failed_tries intervals on.
  std::vector<std::string> argv_for(std::vector<std::string> argv, int workers, int64_t from) const {
    if (o_.grow_every <= 0 || workers >= o_.workers) return argv;
    const int64_t e = o_.grow_every, start = std::max<int64_t>(from, 0);
    const int64_t until = (start / e + (int64_t{1} << std::min(failed, 20))) * e;
    argv.insert(argv.end(), {"--stop-after", std::to_string(until - start)});
    return argv;
  }
  bool trying = false;  // this start is a try on the full count
  int failed = 0;       // tries that failed
  int shrunk = 0;       // the count to return to after a failed try

 private:
  const SuperviseOptions& o_;
};

// The total steps of the run the newest checkpoint belongs to (-1: unknown).
int64_t run_steps(const std::string& run_dir) {
  const std::string name = latest_checkpoint(run_dir);
  if (name.empty()) return -1;
  std::ifstream f(fs::path(run_dir) / name / ckpt::kManifest);
  const nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  if (!j.is_object() || !j.contains("options")) return -1;
  return j["options"].value("steps", int64_t{-1});
}

// The memory snapshot directory of one supervised run: made, handed to the children,
// removed when supervision ends however it ends.
class SnapshotDir {
 public:
  explicit SnapshotDir(bool on) : dir_(on ? make_memory_snapshot_dir() : "") {
    if (on) setenv(kMemorySnapshotEnv, dir_.c_str(), 1);
  }
  ~SnapshotDir() { remove_memory_snapshot_dir(dir_); }
  SnapshotDir(const SnapshotDir&) = delete;
  SnapshotDir& operator=(const SnapshotDir&) = delete;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// Where a restart continues from: the disk's newest checkpoint, or the memory
// snapshot when it is newer (the child verifies it and falls back to the disk).
std::string restart_point(const std::string& run_dir, const std::string& snapshots) {
  const std::string disk = latest_checkpoint(run_dir);
  // this node's copies: rank 0's, the peer's when the peer is on this node too, or
  // every rank's piece (parallel/peer_snapshot.h, shard_snapshot.h; the training
  // process decides among every node's)
  const int64_t mem = newest_snapshot_step(snapshots);
  if (mem >= 0 && mem > latest_step(run_dir))
    return ckpt::step_dir_name(mem) + " in the memory snapshot (disk: " +
           (disk.empty() ? "none" : disk) + ")";
  return disk.empty() ? "the start (no checkpoint yet)" : disk;
}

fs::path repartition_path(const std::string& run_dir) { return fs::path(run_dir) / "repartition"; }

// argv with --stages set to `stages` (its value replaced where given, else appended).
std::vector<std::string> with_stages(std::vector<std::string> argv, const std::string& stages) {
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "--stages" && i + 1 < argv.size()) {
      argv[i + 1] = stages;
      return argv;
    }
    if (argv[i].rfind("--stages=", 0) == 0) {
      argv[i] = "--stages=" + stages;
      return argv;
    }
  }
  argv.insert(argv.end(), {"--stages", stages});
  return argv;
}

// After a child ended with `code`: starts or ends a try at growing back (Grow). True
// when the supervisor starts the next child at once, without using a restart.
bool grow_back(const SuperviseOptions& o, int code, const std::string& from, Elastic& elastic,
               Grow& grow, const std::vector<std::string>& base_argv,
               std::vector<std::string>& restart_argv, Record& rec, const std::string& how,
               fs::file_time_type started) {
  if (o.grow_every <= 0 || o.workers == 0) return false;
  const std::string now = latest_checkpoint(o.run_dir);
  if (grow.trying) {
    grow.trying = false;
    if (code == 0 || code == 2 || now != from) return false;  // done, or a failure of its own
    ++grow.failed;
    const int n = grow.shrunk;
    const int64_t next = static_cast<int64_t>(o.grow_every) << std::min(grow.failed, 20);
    const std::string why = failure_of(o.run_dir, how, started);
    elastic.set_workers(n);
    restart_argv = o.resize(base_argv, n);
    forget_ranks_from(o.run_dir, n);
    rec.set("workers", n);
    rec.event({{"event", "grow_failed"}, {"to", o.workers}, {"back_to", n}, {"why", why}});
    log_event(o.log_path, {{"event", "grow_failed"}, {"to", o.workers}, {"back_to", n}, {"why", why}});
    std::fprintf(stderr, "supervisor: growing back to %d workers failed (%s); continuing on %d "
                 "from %s, next try in %lld steps\n", o.workers, why.c_str(), n, now.c_str(),
                 static_cast<long long>(next));
    return true;
  }
  const int before = elastic.workers();
  if (code != 0 || before >= o.workers) return false;
  const int64_t steps = run_steps(o.run_dir);
  if (steps < 0 || latest_step(o.run_dir) >= steps) return false;  // the run is complete
  grow.trying = true;
  grow.shrunk = before;
  elastic.set_workers(o.workers);
  restart_argv = o.resize(base_argv, o.workers);
  rec.set("workers", o.workers);
  rec.event({{"event", "grow"}, {"from", before}, {"to", o.workers}, {"checkpoint", now}});
  log_event(o.log_path, {{"event", "grow"}, {"from", before}, {"to", o.workers}, {"checkpoint", now}});
  std::fprintf(stderr, "supervisor: the shrunk job (%d workers) stopped at %s, a checkpoint "
               "boundary; growing back to %d workers, same global batch\n", before, now.c_str(),
               o.workers);
  return true;
}

}  // namespace

void write_repartition(const std::string& run_dir, const std::string& stages,
                       const std::string& why) {
  const fs::path tmp = repartition_path(run_dir).string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << stages << '\n' << why << '\n';
  }
  std::error_code ec;
  fs::rename(tmp, repartition_path(run_dir), ec);
}

std::string read_repartition(const std::string& run_dir) {
  std::ifstream f(repartition_path(run_dir));
  std::string stages;
  std::getline(f, stages);
  return stages;
}

int supervise(const SuperviseOptions& o) {
  setenv("PLAIT_SUPERVISED", "1", 1);  // the child trains instead of supervising
  const SnapshotDir snapshots(o.memory_snapshots);
  struct sigaction sa = {};
  sa.sa_handler = forward;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  Record rec(o.run_dir, o.max_restarts);
  Elastic elastic(o);
  Grow grow(o);
  if (o.memory_snapshots) rec.set("memory_snapshot_dir", snapshots.dir());
  std::vector<std::string> base_argv = o.restart_argv;  // with a repartition's --stages
  std::vector<std::string> restart_argv = base_argv;
  if (o.workers > 0) rec.set("workers", o.workers);
  for (int attempt = 0, used = 0;; ++attempt) {  // used: restarts of max_restarts
    const std::string from = latest_checkpoint(o.run_dir);
    const std::vector<std::string> argv =
        attempt == 0 ? o.argv : grow.argv_for(restart_argv, elastic.workers(), latest_step(o.run_dir));
    std::error_code ec;
    fs::remove(fs::path(o.run_dir) / "heartbeat" / "failed.txt", ec);
    fs::remove(repartition_path(o.run_dir), ec);
    if (!o.exit_dir.empty()) fs::remove(fs::path(o.exit_dir) / "exit-rank-0", ec);
    const auto started = fs::file_time_type::clock::now();
    const double started_unix = unix_now();
    const pid_t pid = start(argv);
    g_child = pid;
    nlohmann::json ev = {{"event", "start"}, {"pid", pid}, {"attempt", attempt}, {"checkpoint", from}};
    if (o.workers > 0) ev["workers"] = elastic.workers();
    rec.event(ev);
    std::string hung;
    const int status = wait_child(pid, o, started_unix, &hung);
    g_child = 0;
    int code = 1;
    std::string how = ending(status, &code);
    // under the recovery flags mpirun exits 0 whatever its ranks did (or not 0 when the
    // supervisor ended it after rank 0's end): rank 0's code is the job's
    if (!o.exit_dir.empty() && hung.empty() &&
        (code == 0 || rank0_ended_ago(o.exit_dir, started_unix) >= 0))
      how = rank0_ending(o.exit_dir, &code);
    if (!hung.empty()) {
      how = o.child_is_launcher ? "a hang (heartbeats stopped; its ranks killed)"
                                : "a hang (heartbeats stopped; killed with SIGKILL)";
      code = code == 0 ? 1 : code;  // mpirun under the recovery flags exits 0 when ended
    }
    rec.event({{"event", "end"}, {"pid", pid}, {"how", how}, {"code", code}});
    if (!hung.empty()) rec.event({{"event", "hung"}, {"pid", pid}, {"report", hung}});
    if (!g_stop && grow_back(o, code, from, elastic, grow, base_argv, restart_argv, rec, how,
                             started))
      continue;
    if (code == 0 || code == 2 || g_stop) return code;
    const std::string stages = code == kRepartitionExit ? read_repartition(o.run_dir) : "";
    if (!stages.empty()) {  // not a failure: a restart with new pipeline stages
      if (used >= o.max_restarts) return code;
      base_argv = with_stages(base_argv, stages);
      restart_argv = with_stages(restart_argv, stages);
      rec.restarted();
      rec.event({{"event", "repartition"}, {"stages", stages}, {"checkpoint", latest_checkpoint(o.run_dir)}});
      std::fprintf(stderr, "supervisor: the %s asked for new pipeline stages; restart %d of %d "
                   "from %s with --stages %s\n", o.what.c_str(), used + 1, o.max_restarts,
                   latest_checkpoint(o.run_dir).c_str(), stages.c_str());
      ++used;
      continue;
    }
    const std::string now = latest_checkpoint(o.run_dir);
    log_event(o.log_path, {{"event", "failure"}, {"by", "supervisor"}, {"pid", pid},
                           {"how", how}, {"why", failure_of(o.run_dir, how, started)},
                           {"checkpoint", now}, {"attempt", attempt}});
    if (used >= o.max_restarts) {
      log_event(o.log_path, {{"event", "gave_up"}, {"restarts", used}});
      std::fprintf(stderr, "supervisor: the %s (pid %d) ended with %s; no restarts left (%d used)\n",
                   o.what.c_str(), static_cast<int>(pid), how.c_str(), used);
      return 1;
    }
    const int before = elastic.workers();
    if (const int n = elastic.after_failure(from, now)) {
      const std::string why = "failed " + times(kShrinkAfter) +
                              " in a row with no new checkpoint (last: " +
                              failure_of(o.run_dir, how, started) + ")";
      restart_argv = o.resize(base_argv, n);
      forget_ranks_from(o.run_dir, n);
      rec.set("workers", n);
      rec.event({{"event", "shrink"}, {"from", before}, {"to", n}, {"why", why}});
      log_event(o.log_path, {{"event", "shrink"}, {"from", before}, {"to", n}, {"why", why}});
      std::fprintf(stderr, "supervisor: elastic shrink from %d to %d workers (--min-workers %d), "
                   "same global batch: the %s %s\n", before, n, o.min_workers, o.what.c_str(),
                   why.c_str());
    }
    rec.restarted();
    const std::string point = restart_point(o.run_dir, snapshots.dir());
    log_event(o.log_path, {{"event", "restart"}, {"restart", used + 1},
                           {"max_restarts", o.max_restarts}, {"from", point}});
    std::fprintf(stderr, "supervisor: the %s (pid %d) ended with %s; restart %d of %d from %s\n",
                 o.what.c_str(), static_cast<int>(pid), how.c_str(), used + 1, o.max_restarts,
                 point.c_str());
    ++used;
  }
}

int recorded_restarts(const std::string& run_dir) {
  std::ifstream f(fs::path(run_dir) / "supervisor.json");
  const nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  return j.is_object() ? j.value("restarts", 0) : 0;
}

void record_failure(const std::string& run_dir, const std::string& message) {
  if (run_dir.empty()) return;
  const fs::path hb = fs::path(run_dir) / "heartbeat";
  std::error_code ec;
  fs::create_directories(hb, ec);
  std::string line = message;
  std::replace(line.begin(), line.end(), '\n', ' ');
  const fs::path tmp = hb / ("failed.txt.tmp" + std::to_string(::getpid()));
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << line << '\n';
  }
  fs::rename(tmp, hb / "failed.txt", ec);
}

int record_exit_code(int code) {
  const char* dir = std::getenv("PLAIT_EXIT_DIR");
  const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
  if (!rank) rank = std::getenv("PMIX_RANK");
  if (!dir || !rank) return code;
  const std::string path = std::string(dir) + "/exit-rank-" + rank;
  if (std::FILE* f = std::fopen((path + ".tmp").c_str(), "w")) {
    std::fprintf(f, "%d\n", code);
    std::fclose(f);
    std::rename((path + ".tmp").c_str(), path.c_str());
  }
  return code;
}

}  // namespace plait::fault
