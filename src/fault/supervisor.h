// The supervisor (torchrun's elastic agent, in spirit): it starts the training as a
// child process, waits for it, and when the child dies (kill -9, the OOM killer, a
// crash), ends itself because the heartbeat watchdog found a hang (exit 1), or stops
// publishing heartbeats altogether (stopped whole: hang_watch.h; then killed), starts
// it again from the newest committed checkpoint, at most `max_restarts` times. It
// outlives its workers: with the threads backend the child is `plait train` itself;
// under MPI it is `mpirun ... plait train --backend mpi`, so a dead rank ends the job
// (mpirun's rule) and the whole job restarts.
//
// Restarts run `restart_argv` (the first run's argv with --resume auto): the
// checkpoints are exact, so the final weights equal an uninterrupted run's byte for
// byte. Exit code 2 (bad flags or input) is never retried. Every start and end is
// recorded in RUN_DIR/supervisor.json (read by `plait status`).
//
// Elastic shrink (min_workers < workers): a child that fails kShrinkAfter times in a
// row with no new checkpoint in between (a rank that keeps failing, a node that is
// gone) is restarted on `unit` fewer workers, never fewer than min_workers. The global
// batch stays the same and the checkpoints are layout-free, so the result equals the
// uninterrupted run's within float rounding (the gradient sums are added in another
// order), no longer byte for byte.
//
// Growing back (grow_every > 0: the run's --checkpoint-every): a shrunk child runs with
// --stop-after to the next checkpoint boundary; when it stops there with the run
// unfinished, the supervisor starts the job on the original worker count from that
// checkpoint (same global batch). A full-size start that fails before committing a
// checkpoint (the capacity is not back) returns to the shrunk count at once, and the
// next try comes after twice as many checkpoint intervals (1, 2, 4, ...). Neither a
// stop to grow nor a failed try uses one of max_restarts: each follows at least one
// checkpoint interval of progress. Events `grow` and `grow_failed`.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace plait::fault {

struct SuperviseOptions {
  std::vector<std::string> argv;          // the first start
  std::vector<std::string> restart_argv;  // every later start
  int max_restarts = 0;
  std::string run_dir;                    // the checkpoint directory
  std::string what = "training process";  // for messages ("mpirun")
  // Elastic shrink: workers of the first start (0: never shrink), the fewest to go on
  // with, how many to drop at a time (a whole replica: tp x pp), and the argv of a
  // start on n workers made from restart_argv.
  int workers = 0, min_workers = 0, unit = 1;
  std::function<std::vector<std::string>(const std::vector<std::string>&, int)> resize;
  int grow_every = 0;  // the run's --checkpoint-every; 0: a shrunk job never grows back
  // --memory-snapshot-every: the supervisor makes a directory in shared memory for the
  // child's snapshots, hands it over in PLAIT_MEMORY_SNAPSHOT_DIR, and removes it at
  // the end (fault/memory_snapshot.h).
  bool memory_snapshots = false;
  // The child's --log (metrics JSON lines; "" none): between two children the
  // supervisor appends its own events there (failure, shrink, restart, gave_up), so the
  // log tells the whole run's story.
  std::string log_path;
  // Watching the child's heartbeat files while it runs (fault/hang_watch.h): a child
  // whose heartbeats have all stopped for longer than this many seconds (0: the
  // watchdog's auto limit) is hung, reported, killed and restarted like a dead one.
  // Negative: the supervisor only waits for the child's exit.
  double hang_timeout_s = -1;
  // The child is a launcher (mpirun) whose ranks publish the heartbeat files. On a hang
  // the supervisor SIGKILLs the ranks on this host first (a stopped rank never notices
  // that its launcher is gone), then asks the launcher to end the job (SIGTERM: it ends
  // the ranks on other hosts) and SIGKILLs it after kLauncherGraceSeconds. With
  // exit_dir (backup workers) a job still running kLauncherGraceSeconds after rank 0
  // ended (a rank it dropped is stopped or stuck) is ended the same way, and rank 0's
  // exit code is the job's.
  bool child_is_launcher = false;
  // Backup workers under MPI (docs/DATA_PARALLEL.md): mpirun runs with OpenMPI's
  // recovery flags, so the job outlives a dead rank, and mpirun then exits 0 whatever
  // its ranks did. The job's exit code is rank 0's, which it leaves in
  // EXIT_DIR/exit-rank-0 (PLAIT_EXIT_DIR, tools/plait_main.cpp); none: rank 0 was
  // killed, a failure. "" : mpirun's own exit code.
  std::string exit_dir;
};

// Repartitioning (--repartition-threshold, docs/BALANCE.md): a training process that
// committed a checkpoint and ended to be restarted with new pipeline stages exits
// with kRepartitionExit after writing them to RUN_DIR/repartition ("4,2" and a line
// saying why). The supervisor restarts it with --resume auto --stages 4,2; each such
// restart uses one of --max-restarts (a bound on repartitioning back and forth).
inline constexpr int kRepartitionExit = 3;
void write_repartition(const std::string& run_dir, const std::string& stages,
                       const std::string& why);
// The stages RUN_DIR/repartition names ("" when none).
std::string read_repartition(const std::string& run_dir);

// How long a launcher (mpirun) gets to end a hung job after its local ranks were killed.
inline constexpr double kLauncherGraceSeconds = 5.0;

// Failures in a row, with no new checkpoint between them, that make the supervisor
// shrink the job.
inline constexpr int kShrinkAfter = 2;

// Runs the child until it succeeds, fails with exit code 2, or has failed
// max_restarts + 1 times; returns the exit code to end with (0, 1, 2, or
// kRepartitionExit when the child asked for new stages with no restart left).
int supervise(const SuperviseOptions& o);

// RUN_DIR/supervisor.json's restart count (0 when there is none).
int recorded_restarts(const std::string& run_dir);

// Records why a run failed (RUN_DIR/heartbeat/failed.txt, one line), for the
// supervisor's report; the training process calls it on a run-time error.
void record_failure(const std::string& run_dir, const std::string& message);

// Under `plait launch` with backup workers mpirun exits 0 whatever its ranks do (its
// recovery flags, docs/DATA_PARALLEL.md), so each MPI rank leaves its exit code in
// $PLAIT_EXIT_DIR/exit-rank-R for the supervisor: main's return, or a run ended by its
// watchdog (exit 1). A killed rank leaves none. Returns `code`; a no-op outside mpirun.
int record_exit_code(int code);

}  // namespace plait::fault
