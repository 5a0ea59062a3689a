#include "parallel/run_loop.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <csignal>
#include <cstdlib>
#include <optional>
#include <thread>

#include "fault/heartbeat.h"
#include "fault/test_hooks.h"
#include "util/error.h"

namespace plait {
namespace {

using Clock = std::chrono::steady_clock;

// Test hook: with PLAIT_TEST_PAUSE_AFTER_CHECKPOINT=S the run, once its step-S
// checkpoint is committed, creates <checkpoint dir>/paused and waits to be killed.
// Lets a test SIGKILL a run at a known point without depending on timing.
void maybe_pause_for_test(const std::string& run_dir, int64_t step) {
  const char* env = std::getenv("PLAIT_TEST_PAUSE_AFTER_CHECKPOINT");
  if (!env || std::atoll(env) != step) return;
  std::FILE* f = std::fopen((run_dir + "/paused").c_str(), "w");
  if (f) std::fclose(f);
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

// Test hooks fire once per run directory: a marker file there (test-<what>-R-S) keeps
// the restarted run from meeting the same fault again. True when it is new.
bool first_time(const std::string& run_dir, const char* what, int rank, long long step) {
  if (run_dir.empty()) return true;
  const std::string mark = run_dir + "/test-" + what + "-" + std::to_string(rank) + "-" +
                           std::to_string(step);
  if (std::FILE* f = std::fopen(mark.c_str(), "r")) {
    std::fclose(f);
    return false;
  }
  if (std::FILE* f = std::fopen(mark.c_str(), "w")) std::fclose(f);
  return true;
}

// The rank a hook's R names: the calling thread's world rank (0 outside any heartbeat
// scope, as a single process is rank 0).
int hook_rank() { return std::max(0, fault::Heartbeats::current_rank()); }

}  // namespace

// (run_loop.h)
void meet_test_faults(const fault::RankStepHooks& hooks, const std::string& run_dir, int64_t t) {
  using H = fault::RankStepHooks;
  const int stall_rank = fault::Heartbeats::current_rank();
  if (hooks.fires(H::stall, stall_rank, t) && first_time(run_dir, "stalled", stall_rank, t))
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  const int me = hook_rank();
  if (!run_dir.empty() && hooks.fires(H::kill, me, t) && first_time(run_dir, "killed", me, t))
    std::raise(SIGKILL);
  if (hooks.fires(H::fail_at, me, t) && first_time(run_dir, "failed", me, t))
    throw RuntimeError("rank " + std::to_string(me) + " failed at step " + std::to_string(t + 1) +
                       " (test hook PLAIT_TEST_FAIL_AT)");
  if (!run_dir.empty() && hooks.fires(H::sigstop, me, t) && first_time(run_dir, "sigstopped", me, t))
    std::raise(SIGSTOP);
}

namespace {

// Test hook: PLAIT_TEST_FAIL_AT_START=R[@S] makes world rank R fail (RuntimeError) as
// it starts training, in every run that starts at step S or later (0 when not given),
// as a rank whose node is gone would. Not one-shot: only a run without rank R gets
// past it (elastic shrink, --min-workers). With PLAIT_TEST_FAIL_AT_START_RUNS=N only the
// first N runs that meet it fail (marker files test-failstart-0-K in the run directory):
// the node comes back (growing back).
bool fail_again_for_test(const std::string& run_dir) {
  const char* runs = std::getenv("PLAIT_TEST_FAIL_AT_START_RUNS");
  if (!runs || run_dir.empty()) return true;
  for (int k = 0; k < std::atoi(runs); ++k)
    if (first_time(run_dir, "failstart", 0, k)) return true;
  return false;
}

void maybe_fail_at_start_for_test(const fault::RankStepHooks& hooks, int64_t start,
                                  const std::string& run_dir) {
  const auto& at = hooks.fail_at_start();
  if (!at || at->rank != hook_rank() || start < at->step) return;
  if (!fail_again_for_test(run_dir)) return;
  throw RuntimeError("rank " + std::to_string(at->rank) + " failed at the start of step " +
                     std::to_string(start) + " (test hook PLAIT_TEST_FAIL_AT_START: its node is gone)");
}

// "step 12 is not finite (loss nan, gradient norm nan; first non-finite tensor: X)"
std::string nonfinite_line(const std::string& tensor, const StepResult& res, int64_t t) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "loss %g, gradient norm %g", res.loss, res.grad_norm);
  return "step " + std::to_string(t + 1) + " is not finite (" + buf +
         "; first non-finite tensor: " + (tensor.empty() ? "none, the loss overflowed" : tensor) +
         ")";
}

bool finite(const StepResult& res) {
  return std::isfinite(res.loss) && std::isfinite(res.grad_norm);
}

// --on-nonfinite after step t was not finite (its update was not applied; the norm
// and the loss are global, so every rank of a synchronous step gets here at the same
// step). stop: RuntimeError (exit 1) before anything of the step is logged as a result
// or checkpointed, so the last committed checkpoint is the last good one. skip: the
// step counts as done without an update. rollback: back to the newest checkpoint.
// Returns the step to train next; `faults` counts skips and rollbacks.
int64_t on_nonfinite(StepRunner& r, const StepResult& res, int64_t t, const TrainOptions& opt,
                     const LoopRoles& roles, int& faults) {
  // every rank, once: a collective where the tensors are spread over ranks
  const std::string tensor = r.nonfinite_tensor();
  const std::string what = nonfinite_line(tensor, res, t);
  if (opt.on_nonfinite == NonFinite::stop)
    throw RuntimeError(what + ": stopped before any checkpoint of it (the last committed one "
                       "is intact); try a lower --lr, --clip 1, or --on-nonfinite skip|rollback");
  if (++faults > opt.max_nonfinite)
    throw RuntimeError(what + ": giving up after " + std::to_string(opt.max_nonfinite) + " " +
                       to_string(opt.on_nonfinite) + (opt.on_nonfinite == NonFinite::skip
                                                          ? " (skipped steps)" : "s") +
                       " (--max-nonfinite)");
  int64_t next = res.next;
  if (opt.on_nonfinite == NonFinite::rollback) {
    fault::Heartbeats::beat("rollback", t);
    next = r.rollback(t);
  }
  if (roles.out) {
    const bool skip = opt.on_nonfinite == NonFinite::skip;
    const std::string line =
        "plait: " + what + (skip ? ": update skipped" : ": rolled back to step " +
        std::to_string(next) + ", data order shifted past the failed steps") + " (" +
        std::to_string(faults) + " of --max-nonfinite " + std::to_string(opt.max_nonfinite) + ")";
    if (opt.progress) roles.out->message(line);
    else std::fprintf(stderr, "%s\n", line.c_str());  // a fault is said even without progress
    roles.out->event({{"event", "nonfinite"}, {"step", t + 1}, {"action", to_string(opt.on_nonfinite)},
                      {"tensor", tensor}, {"resumed_at", next}, {"count", faults}});
  }
  return next;
}

}  // namespace

int64_t StepRunner::rollback(int64_t) {
  throw RuntimeError("--on-nonfinite rollback: this architecture cannot roll back");
}

int64_t end_step(const TrainOptions& opt, int64_t start) {
  return opt.stop_after > 0 ? std::min(opt.steps, start + opt.stop_after) : opt.steps;
}

void check_resumable(const TrainOptions& opt, int64_t step) {
  if (step >= opt.steps)
    throw UsageError("--resume: the checkpoint in '" + opt.checkpoint_dir + "' is at step " +
                     std::to_string(step) + ", already the end of a " +
                     std::to_string(opt.steps) + "-step run");
}

TrainSummary run_loop(StepRunner& r, const TrainOptions& opt, const LoopRoles& roles,
                      int64_t start, int64_t end) {
  TrainSummary sum;
  sum.first_step = sum.step = start;
  if (roles.out) roles.out->begin(start, end, r.describe());
  const auto t_start = Clock::now();
  const auto hooks = fault::RankStepHooks::from_env();  // a malformed one fails here
  maybe_fail_at_start_for_test(hooks, start, opt.checkpoint_dir);
  int64_t t = start;
  int faults = 0;  // non-finite steps skipped or rolled back
  while (t < end) {
    const bool checkpoint =
        !opt.checkpoint_dir.empty() && (due(opt.checkpoint_every, t + 1) || t + 1 == end);
    const bool snapshot = !checkpoint && !opt.memory_snapshot_dir.empty() &&
                          due(opt.memory_snapshot_every, t + 1);
    fault::Heartbeats::beat("step", t);
    // A kill, stall or sigstop at t or t + 1: the checkpointing rank lets its background
    // writes finish first, so a test's fault meets the same committed checkpoints
    // whatever the writer's speed: every checkpoint due before the faulty step is
    // committed before the others can pass the step before it (as with inline writes).
    // Faults DURING a write: PLAIT_TEST_CRASH_AT.
    if (hooks.fault_near(t)) r.wait_for_checkpoints();
    meet_test_faults(hooks, opt.checkpoint_dir, t);
    const auto s0 = Clock::now();
    const StepResult res = r.run_step(t, checkpoint);  // snapshots need no gathers
    const StepTiming timing = r.step_timing();
    fault::Heartbeats::timing(t, std::chrono::duration<double>(Clock::now() - s0).count(),
                              timing.compute_s, timing.wait_s);
    const bool ok = finite(res);
    if (!ok) {
      const int64_t next = on_nonfinite(r, res, t, opt, roles, faults);
      if (next <= t) {  // rolled back: redo from the checkpoint
        t = next;
        continue;
      }
    }
    const int64_t done = t + 1;
    t = res.next;
    if (BalanceHook* b = r.balance_hook()) b->after_step(done, roles.out);
    // new pipeline stages: checkpoint now and end (the process exits 3); never after
    // the invocation's last step (every rank skips it alike)
    const bool restage = roles.restage && done < end && roles.restage->after_step(done, roles.out);
    if (ok) sum.last_loss = res.loss;
    std::optional<double> val;
    if (roles.evaluates && (due(opt.eval_every, done) || done == opt.steps)) {
      fault::Heartbeats::beat("evaluation", t);
      val = r.validation_loss();
      if (sum.first_val_loss < 0) sum.first_val_loss = *val;
      sum.last_val_loss = *val;
    }
    if (roles.out && ok) roles.out->step(done, res.loss, res.lr, res.grad_norm, val);
    if (roles.checkpoints && (checkpoint || restage)) {
      fault::Heartbeats::beat("checkpoint", t);
      const auto c0 = Clock::now();
      sum.checkpoint = r.save(done);
      sum.checkpoint_s += std::chrono::duration<double>(Clock::now() - c0).count();
      if (std::getenv("PLAIT_TEST_PAUSE_AFTER_CHECKPOINT")) r.wait_for_checkpoints();
      maybe_pause_for_test(opt.checkpoint_dir, done);
    }
    if (snapshot && !restage) {  // every rank: the runner knows which ranks keep a copy
      if (roles.checkpoints) fault::Heartbeats::beat("checkpoint", t);
      r.snapshot(done, opt.memory_snapshot_dir);
    }
    if (restage) {
      sum.restage = roles.restage->stages();
      break;
    }
  }
  fault::Heartbeats::beat("checkpoint", t);
  const auto w0 = Clock::now();
  r.wait_for_checkpoints();  // the run's last checkpoint is committed before it ends
  if (roles.checkpoints) sum.checkpoint_s += std::chrono::duration<double>(Clock::now() - w0).count();
  const double secs = std::chrono::duration<double>(Clock::now() - t_start).count();
  sum.loop_s = secs;
  sum.step = t;
  sum.steps_done = t - sum.first_step;
  sum.tokens_per_s =
      secs > 0 ? static_cast<double>(sum.steps_done) * opt.batch * opt.model.ctx / secs : 0;
  return sum;
}

}  // namespace plait
