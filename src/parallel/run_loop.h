// The ONE training loop every architecture runs (data parallel, the dp x tp x pp mesh,
// parameter-server workers): what happens around a step is written here once.
//
// Per step t (0-based; "after t + 1 steps" is what a checkpoint at step t + 1 holds):
//   1. the rank's StepRunner trains step t, told whether a checkpoint follows;
//   2. on the ranks that evaluate: the validation loss, when due (--eval-every) and
//      after the run's last step;
//   3. on the rank with the RunOutput: the progress line and the metrics log;
//   4. on the ranks that checkpoint: a checkpoint, when due (--checkpoint-every) and
//      at the end of this invocation, then the test pause hook.
// Each phase (step, evaluation, checkpoint) starts with a heartbeat (fault/heartbeat.h).
// Which ranks evaluate and checkpoint is the architecture's (LoopRoles): rank 0 alone
// for whole replicas, every rank for the mesh (both are collective there).
// Between 1 and 2, a runner with a BalanceHook (data parallelism) measures and
// rebalances: a collective over its ranks, so every rank calls it after every step.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "parallel/run_output.h"
#include "parallel/train_options.h"
#include "parallel/train_summary.h"

namespace plait {

namespace fault {
class RankStepHooks;
}

struct StepResult {
  double loss = 0;       // the global batch's mean training loss (what is logged)
  float lr = 0;          // the learning rate the step used
  double grad_norm = 0;  // before clipping
  int64_t next = 0;      // the step this rank trains next: t + 1, except a parameter-
                         // server worker dropped as a late backup, which skips ahead
};

// One step's timing on this rank: compute (forward+backward, with any --slowdown) and
// waiting for the other ranks (the gradient and loss reduction), seconds.
struct StepTiming {
  double compute_s = 0, wait_s = 0;
  int64_t seqs = 0;  // sequences run (a replica's share; under work stealing what it claimed)
  // The training thread's CPU seconds so far, less those spent waiting for other ranks
  // (cumulative; data parallelism only, else 0): differences are the work of steps.
  double work_cpu_s = 0;
};

// Measuring speeds and re-splitting the batch after a step (docs/BALANCE.md).
class BalanceHook {
 public:
  virtual ~BalanceHook() = default;
  // After the step that made `done` steps: shares every rank's timing (collective),
  // maybe re-splits the batch for the next step; `out` (logging rank only, else null)
  // gets the per-rank figures and any message.
  virtual void after_step(int64_t done, RunOutput* out) = 0;
  // What a checkpoint keeps so a resumed run splits as the uninterrupted one would
  // (null: nothing).
  virtual nlohmann::json state() const = 0;
};

// Ending the invocation for new pipeline stages (parallel/stage_repartition.h).
class RestageHook {
 public:
  virtual ~RestageHook() = default;
  // After the step that made `done` steps (collective over the runner's ranks): true
  // when the run should commit a checkpoint now and end, to restart with stages().
  virtual bool after_step(int64_t done, RunOutput* out) = 0;
  virtual std::vector<int> stages() const = 0;
};

// One rank of one architecture, as the loop drives it.
class StepRunner {
 public:
  virtual ~StepRunner() = default;
  // Trains step t; `checkpoint_after`: the loop checkpoints after it (a parameter-
  // server worker fetches the optimizer moments with the parameters).
  virtual StepResult run_step(int64_t t, bool checkpoint_after) = 0;
  virtual double validation_loss() = 0;
  // Commits a checkpoint of the state after `steps` steps, or (background writer)
  // snapshots it and starts its write; returns its directory.
  virtual std::string save(int64_t steps) = 0;
  // Returns once every checkpoint save() started is committed; throws the failure of
  // a background write (CheckpointWriteError).
  virtual void wait_for_checkpoints() {}
  // Commits a snapshot of the state after `steps` steps into `dir` (keeping only the
  // newest), in the background like save(); wait_for_checkpoints() waits for it too.
  // --memory-snapshot-every (fault/memory_snapshot.h); runners without it do nothing.
  // Called on every rank; the runner decides which ranks keep a copy (peer_snapshot.h).
  virtual void snapshot(int64_t /*steps*/, const std::string& /*dir*/) {}
  // After a step whose loss or gradient norm is not finite (its update was not
  // applied): the first non-finite tensor this rank holds, in the parameter table's
  // order, parameters before gradients ("transformer.h.2.attn.c_attn.weight grad"),
  // or "" when every tensor is finite (the loss alone overflowed). Every rank of the
  // loop calls it once per such step: it may be a collective (mesh, ZeRO shards).
  virtual std::string nonfinite_tensor() const { return ""; }
  // --on-nonfinite rollback after step `failed` (collective over the runner's ranks):
  // reloads the newest committed checkpoint, shifts the data order so that its steps
  // draw the batches after the failed window, and returns the checkpoint's step.
  virtual int64_t rollback(int64_t failed);
  // The line that opens the run's progress output.
  virtual std::string describe() const = 0;
  // The balancing of this runner's ranks, if any.
  virtual BalanceHook* balance_hook() { return nullptr; }
  // The last step's compute and waiting on this rank (zeros: not measured), published
  // with the heartbeat after every step (/metrics, the metrics log).
  virtual StepTiming step_timing() const { return {}; }
};

// run_step of a runner whose every step is synchronous (one worker, data parallel,
// mesh): train_step(grad_norm) trains step t at the lr its schedule gives t; the
// runner's `step` moves to t + 1, which is also the next step the loop asks for.
template <class Runner>
StepResult synchronous_step(Runner& r, int64_t t) {
  r.step = t;
  StepResult res;
  res.loss = r.train_step(res.grad_norm);
  res.lr = r.schedule.at(t);
  res.next = r.step = t + 1;
  return res;
}

struct LoopRoles {
  RunOutput* out = nullptr;  // the logging rank's output (null elsewhere)
  bool evaluates = false;    // this rank computes validation losses
  bool checkpoints = false;  // this rank takes part in checkpoints
  RestageHook* restage = nullptr;  // --repartition-threshold (a pipeline mesh), or none
};

// Runs steps [start, end); every rank of the run calls it with the same bounds.
// Returns the summary (meaningful on the logging rank).
TrainSummary run_loop(StepRunner& r, const TrainOptions& opt, const LoopRoles& roles,
                      int64_t start, int64_t end);

// Whether a periodic action (every `every` steps; 0 = never) falls after `done` steps.
inline bool due(int64_t every, int64_t done) { return every > 0 && done % every == 0; }

// The step this invocation ends at.
int64_t end_step(const TrainOptions& opt, int64_t start);

// --resume found a checkpoint at `step`: UsageError if the run is already over.
void check_resumable(const TrainOptions& opt, int64_t step);

// The rank-and-step test hooks (fault/test_hooks.h) as the calling thread's rank meets
// them at step t: the loop at the start of each step; a parameter server (which runs
// no loop) as it reduces step t's gradient norm among the servers (ps_server.cpp).
// KILL, STALL and SIGSTOP fire once per run directory (a marker file there), so the
// restarted run goes past them; KILL and SIGSTOP need a run directory.
//   STALL: sleep for good, still publishing heartbeats, as a rank stuck in a kernel or a
//     dead device would; the watchdog must report it and end the run. Only inside a
//     heartbeat scope: without one no watchdog would ever end the sleep.
//   KILL: SIGKILL the whole process, as the OOM killer would.
//   FAIL_AT: a RuntimeError, a rank whose thread dies mid-run (with --backup-workers it
//     leaves and the run goes on; otherwise the run fails).
//   SIGSTOP: stop the whole process, heartbeat thread included, as `kill -STOP` from
//     outside (MPI: rank 0's watchdog sees the rank's file stop changing).
void meet_test_faults(const fault::RankStepHooks& hooks, const std::string& run_dir, int64_t t);

}  // namespace plait
