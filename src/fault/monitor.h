// Monitoring a user can scrape (--metrics-port, docs/FAULT_TOLERANCE.md "Monitoring"):
// what a run shows on /metrics (Prometheus text) and /healthz, gathered when asked.
//
// Training publishes, the server reads: the logging rank hands each step's number and
// loss to a Monitor (a mutex-guarded copy, so a request never waits for a step and a
// step never waits for a request); the per-rank figures are the heartbeats
// (fault/heartbeat.h: step, timing, ages); the restarts and the checkpoint come from
// the run directory's files. A supervisor that serves across its child's restarts sees
// the same things through files only: the child's logging rank writes its scalars to
// RUN/heartbeat/metrics.json beside the heartbeat files (write_scalars_file).
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#include "fault/heartbeat.h"

namespace plait::fault {

// The run as its logging rank last saw it.
struct RunScalars {
  std::int64_t step = -1;  // steps completed (the last logged step); -1: none yet
  double loss = std::numeric_limits<double>::quiet_NaN();
  double tokens_per_s = 0;  // over the last few steps
};

class Monitor {
 public:
  explicit Monitor(std::int64_t tokens_per_step) : tokens_per_step_(tokens_per_step) {}
  // After step `step` (steps completed) with its training loss.
  void step(std::int64_t step, double loss);
  RunScalars scalars() const;

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kWindow = 8;  // tokens/s: over the last kWindow steps
  const std::int64_t tokens_per_step_;
  mutable std::mutex m_;
  RunScalars s_;
  std::deque<std::pair<Clock::time_point, std::int64_t>> recent_;
};

// RUN/heartbeat/metrics.json: the logging rank's scalars for a supervisor (or
// `plait status`); reading a missing or torn file gives the defaults.
void write_scalars_file(const std::string& run_dir, const RunScalars& s);
RunScalars read_scalars_file(const std::string& run_dir);

// Everything /metrics and /healthz show, gathered at request time.
struct MonitorView {
  RunScalars run;
  std::vector<Beat> beats;       // every rank known (threads: live; MPI/supervisor: files)
  int restarts = 0;              // the supervisor's (RUN/supervisor.json)
  // Elastic runs (--min-workers; RUN/supervisor.json): the workers of the current
  // child (0: not elastic) and the shrinks and grows so far.
  int workers = 0, resizes = 0;
  std::int64_t checkpoint_step = -1;  // the newest committed checkpoint (RUN/latest)
  std::string down;              // not "": unhealthy for this reason whatever the beats
};

// A heartbeat file older than this (seconds) is a process stopped or gone: ranks
// publish every kPublishSeconds.
inline constexpr double kStaleBeatSeconds = 8 * kPublishSeconds;

// The Prometheus text exposition (format 0.0.4) of a view; plait_healthy follows
// unhealthy_reason under `limit_s`.
std::string prometheus_text(const MonitorView& v, double limit_s);

// "" when healthy; else why not, in one line: `down`, a rank whose heartbeat is stale,
// or the watchdog's stall report under `limit_s` (0: auto, heartbeat.h).
std::string unhealthy_reason(const MonitorView& v, double limit_s);

// The run directory's part of a view: restarts, the elastic worker count and resizes,
// and the newest checkpoint's step.
void add_run_dir(const std::string& run_dir, MonitorView& v);

}  // namespace plait::fault
