// The supervisor's own look at its child (docs/FAULT_TOLERANCE.md, "Recovery"): the
// watchdog inside the training process (heartbeat.h) reports a rank that stops making
// progress, but a child stopped WHOLE (SIGSTOP of the process, a frozen VM, every
// thread stuck) stops its watchdog too, and its exit never comes. So while it waits,
// the supervisor reads the heartbeat files the child's ranks publish every
// kPublishSeconds whatever they are doing (RUN_DIR/heartbeat/rank-R.json) and calls
// the child hung when every file it wrote since it started has stopped changing for
// longer than the limit.
//
// Only files written since the child started count (the previous child's stay behind),
// and a child that has written none yet (loading its data) is not judged: a start-up
// hang is left to --timeout (the supervisor itself sees a child stopped by a signal
// before its first publish: waitpid's WUNTRACED). Finished ranks ("done", "failed") are
// left out.
//
// The child may be mpirun (plait launch): then the files are its ranks', one per
// process, and the job is hung when every rank's process is stopped or stuck.
#pragma once
#include <string>
#include <vector>

namespace plait::fault {

// The report on a hung child, one line: how long its heartbeats have been still and
// each rank's last step, phase and activity ("rank 1 in step 5 (waiting in ...)").
// Empty while the child is not hung. `started_unix`: when the child started (seconds
// since the epoch); `limit_s`: 0 picks kAutoBaseSeconds + kAutoFactor x the slowest
// phase the ranks reported, as the watchdog's auto limit does.
std::string hung_child_report(const std::string& run_dir, double started_unix, double limit_s);

// The processes of the child's ranks (the heartbeat files it wrote since it started,
// ranks not finished) that run on this host: what a supervisor of mpirun kills when
// the job hangs (a stopped rank never sees its launcher go).
// `all`: finished ranks too (their process may linger: a rank dropped by backup
// workers because it stopped).
std::vector<long> child_rank_pids(const std::string& run_dir, double started_unix,
                                  bool all = false);

}  // namespace plait::fault
