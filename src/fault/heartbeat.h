// Heartbeats and the watchdog: every rank publishes its step and what it is doing; one
// watchdog per run reports a rank that stops making progress and ends the run, so that
// a hang becomes a failure the supervisor (or the user) restarts from the last
// checkpoint instead of a silent wait until the collective timeout.
//
// Publishing. The run loop calls beat(phase, step) at every phase change ("step",
// "evaluation", "checkpoint"; progress = any change). The calls go to the calling
// thread's slot (set by a Heartbeats::Scope around each rank's work; no slot, no-op).
// A slot also holds `activity`, the comm layer's view of the rank ("waiting in
// allreduce(ring) #12 of group 'dp' for rank 1", comm::Comm::activity).
//
// Watching. Threads backend: every rank is a slot of this process's Heartbeats, read
// directly. MPI: each process writes its slot to <dir>/heartbeat/rank-<r>.json every
// kPublishSeconds (temporary file + rename), and rank 0's watchdog reads every rank's
// file; a file that stops changing (the process is stopped or gone) ages like a rank
// that stopped making progress.
//
// The limit: --heartbeat-timeout S, or (0, auto) kAutoBaseSeconds + kAutoFactor x the
// slowest phase seen so far on any rank; until every rank has completed a phase there
// is no auto limit (the collective timeout, --timeout, covers start-up).
//
// Stalled: no progress for longer than the limit, past the first step (start-up and
// parameter-server ranks, which run no steps, are left to --timeout), not finished;
// a rank waiting for others is not stalled while a live rank outside any wait makes
// progress (rank 0 evaluating while the others wait in the next step). The report names
// the rank that the others wait for: a rank whose own heartbeat is stale first, then
// one that is not waiting for anyone, then the lowest step.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace plait::fault {

inline constexpr double kPublishSeconds = 0.25;
inline constexpr double kAutoBaseSeconds = 10.0;
inline constexpr double kAutoFactor = 3.0;
// A rank's heartbeat thread publishes every kPublishSeconds whatever its training
// thread does, so a beat older than this many publishes means the process is stopped
// or gone (SIGSTOP, a dead node), not merely waiting.
inline constexpr double kFrozenBeatSeconds = 4 * kPublishSeconds;

// One rank's published state, as the watchdog sees it.
struct Beat {
  int rank = 0;
  std::string host;
  long pid = 0;
  std::int64_t step = -1;    // the step the rank is in (0-based), -1 before the first
  std::string phase;         // "start", "step", "evaluation", "checkpoint", "done"
  std::string activity;      // the comm layer's view; "" if unknown
  double progress_age = 0;   // seconds since the last phase change (at `now`)
  double slowest = 0;        // the longest phase so far, seconds
  double beat_age = 0;       // seconds since this beat was published (files: > 0)
  bool finished = false;
  // The rank's newest completed step (timing()): its number (0-based, -1: none yet),
  // wall seconds, and of them forward+backward and waiting for other ranks.
  std::int64_t timed_step = -1;
  double step_s = 0, compute_s = 0, wait_s = 0;
};

class Heartbeats {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Heartbeats(int ranks);  // slots for world ranks [0, ranks) of this process
  ~Heartbeats();

  // Makes `rank`'s slot the calling thread's for the scope's lifetime.
  class Scope {
   public:
    Scope(Heartbeats& hb, int rank, std::function<std::string()> activity);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Heartbeats& hb_;
    int rank_;
  };

  // The calling thread's rank, or -1 outside any scope.
  static int current_rank();
  // Publishes a phase change of the calling thread's rank (no-op outside a scope).
  static void beat(const char* phase, std::int64_t step);
  // Publishes progress inside a long phase (one evaluation pass), phase unchanged
  // (no-op outside a scope): a final evaluation over many windows is not a stall.
  static void progress();
  // Publishes the timing of the calling thread's rank's completed step `step`
  // (no-op outside a scope): what /metrics and the metrics log show per rank.
  static void timing(std::int64_t step, double step_s, double compute_s, double wait_s);

  // The slots' state now (ranks that never entered a scope are left out).
  std::vector<Beat> snapshot() const;

 private:
  struct Slot;
  std::vector<std::unique_ptr<Slot>> slots_;
};

// <dir>/heartbeat/rank-<r>.json: writing one rank's beat, reading all of them.
void write_beat_file(const std::string& dir, const Beat& b);
std::vector<Beat> read_beat_files(const std::string& dir);

// The verdict on a set of beats under `limit_s` (0: auto). Empty when nobody stalls.
std::string stall_report(const std::vector<Beat>& beats, double limit_s);

// A thread that looks at `source()` every poll and, on a stall, calls on_stall(report)
// once and stops. `publish` (may be empty) runs on every poll too (MPI: write this
// rank's file).
class Watchdog {
 public:
  Watchdog(std::function<std::vector<Beat>()> source, double limit_s,
           std::function<void(const std::string&)> on_stall, std::function<void()> publish = {});
  ~Watchdog();  // stops and joins the thread
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  void run();
  std::function<std::vector<Beat>()> source_;
  double limit_s_;
  std::function<void(const std::string&)> on_stall_;
  std::function<void()> publish_;
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// Ranks the run has let go while it goes on (backup workers drop a rank whose process
// is gone, parallel/backup_sync.h): the MPI watchdog leaves them out. Process-wide.
void mark_rank_dropped(int rank);
bool rank_dropped(int rank);

// This machine's name (gethostname).
std::string host_name();

}  // namespace plait::fault
