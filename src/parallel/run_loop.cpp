#include "parallel/run_loop.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

#include "fault/heartbeat.h"
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

// A non-finite loss or gradient norm ends the run (exit 1) before anything is logged
// as a result or checkpointed: the last committed checkpoint stays the last good one,
// and pruning never removes it for a damaged state. The gradient norm is the same on
// every rank of a synchronous step, so every rank stops at the same step.
void stop_if_nonfinite(const StepResult& res, int64_t t, const TrainOptions& opt) {
  if (std::isfinite(res.loss) && std::isfinite(res.grad_norm)) return;
  char buf[96];
  std::snprintf(buf, sizeof buf, "loss %g, gradient norm %g", res.loss, res.grad_norm);
  throw RuntimeError("step " + std::to_string(t + 1) + " is not finite (" + buf +
                     "; --lr " + std::to_string(opt.lr) + "): stopped before any checkpoint " +
                     "of it (the last committed one is intact); try a lower --lr or --clip 1");
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

// Test hook: with PLAIT_TEST_STALL=R:S world rank R stops (sleeps for good) as it
// starts step S (0-based), still publishing heartbeats, as a rank stuck in a kernel or
// a dead device would; the watchdog must report it and end the run.
void maybe_stall_for_test(const std::string& run_dir, int64_t step) {
  const char* env = std::getenv("PLAIT_TEST_STALL");
  if (!env) return;
  int rank = -1;
  long long at = -1;
  if (std::sscanf(env, "%d:%lld", &rank, &at) != 2) return;
  if (rank != fault::Heartbeats::current_rank() || at != step) return;
  if (!first_time(run_dir, "stalled", rank, at)) return;
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

// Test hook: PLAIT_TEST_KILL=R:S[,R:S...] makes world rank R SIGKILL its whole process
// as it starts step S (0-based), as the OOM killer would (once per run directory).
void maybe_kill_for_test(const std::string& run_dir, int64_t step) {
  const char* env = std::getenv("PLAIT_TEST_KILL");
  if (!env || run_dir.empty()) return;
  const int me = std::max(0, fault::Heartbeats::current_rank());
  for (const char* p = env; *p;) {
    int rank = -1;
    long long at = -1;
    if (std::sscanf(p, "%d:%lld", &rank, &at) == 2 && rank == me && at == step &&
        first_time(run_dir, "killed", rank, at))
      std::raise(SIGKILL);
    const char* comma = std::strchr(p, ',');
    if (!comma) break;
    p = comma + 1;
  }
}

// Whether a PLAIT_TEST_KILL or PLAIT_TEST_STALL hook of any rank fires at step t or
// t + 1. The checkpointing rank then lets its background writes finish first, so a
// test's fault meets the same committed checkpoints whatever the writer's speed: every
// checkpoint due before the faulty step is committed before the others can pass the
// step before it (as with inline writes). Faults DURING a write: PLAIT_TEST_CRASH_AT.
bool test_fault_near(int64_t t) {
  for (const char* var : {"PLAIT_TEST_KILL", "PLAIT_TEST_STALL"}) {
    const char* env = std::getenv(var);
    for (const char* p = env; p && *p;) {
      int rank = -1;
      long long at = -1;
      if (std::sscanf(p, "%d:%lld", &rank, &at) == 2 && (at == t || at == t + 1)) return true;
      const char* comma = std::strchr(p, ',');
      if (!comma) break;
      p = comma + 1;
    }
  }
  return false;
}

// Test hook: PLAIT_TEST_FAIL_AT_START=R[@S] makes world rank R fail (RuntimeError) as
// it starts training, in every run that starts at step S or later (0 when not given),
// as a rank whose node is gone would. Not one-shot: only a run without rank R gets
// past it (elastic shrink, --min-workers).
void maybe_fail_at_start_for_test(int64_t start) {
  const char* env = std::getenv("PLAIT_TEST_FAIL_AT_START");
  if (!env) return;
  int rank = -1;
  long long from = 0;
  if (std::sscanf(env, "%d@%lld", &rank, &from) < 1) return;
  if (rank != std::max(0, fault::Heartbeats::current_rank()) || start < from) return;
  throw RuntimeError("rank " + std::to_string(rank) + " failed at the start of step " +
                     std::to_string(start) + " (test hook PLAIT_TEST_FAIL_AT_START: its node is gone)");
}

}  // namespace

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
  maybe_fail_at_start_for_test(start);
  int64_t t = start;
  while (t < end) {
    const bool checkpoint =
        !opt.checkpoint_dir.empty() && (due(opt.checkpoint_every, t + 1) || t + 1 == end);
    const bool snapshot = !checkpoint && !opt.memory_snapshot_dir.empty() &&
                          due(opt.memory_snapshot_every, t + 1);
    fault::Heartbeats::beat("step", t);
    if (test_fault_near(t)) r.wait_for_checkpoints();
    maybe_stall_for_test(opt.checkpoint_dir, t);
    maybe_kill_for_test(opt.checkpoint_dir, t);
    const StepResult res = r.run_step(t, checkpoint || snapshot);
    stop_if_nonfinite(res, t, opt);
    const int64_t done = t + 1;
    t = res.next;
    if (BalanceHook* b = r.balance_hook()) b->after_step(done, roles.out);
    sum.last_loss = res.loss;
    std::optional<double> val;
    if (roles.evaluates && (due(opt.eval_every, done) || done == opt.steps)) {
      fault::Heartbeats::beat("evaluation", t);
      val = r.validation_loss();
      if (sum.first_val_loss < 0) sum.first_val_loss = *val;
      sum.last_val_loss = *val;
    }
    if (roles.out) roles.out->step(done, res.loss, res.lr, res.grad_norm, val);
    if (roles.checkpoints && checkpoint) {
      fault::Heartbeats::beat("checkpoint", t);
      sum.checkpoint = r.save(done);
      if (std::getenv("PLAIT_TEST_PAUSE_AFTER_CHECKPOINT")) r.wait_for_checkpoints();
      maybe_pause_for_test(opt.checkpoint_dir, done);
    }
    if (roles.checkpoints && snapshot) {
      fault::Heartbeats::beat("checkpoint", t);
      r.snapshot(done, opt.memory_snapshot_dir);
    }
  }
  fault::Heartbeats::beat("checkpoint", t);
  r.wait_for_checkpoints();  // the run's last checkpoint is committed before it ends
  const double secs = std::chrono::duration<double>(Clock::now() - t_start).count();
  sum.step = t;
  sum.steps_done = t - sum.first_step;
  sum.tokens_per_s =
      secs > 0 ? static_cast<double>(sum.steps_done) * opt.batch * opt.model.ctx / secs : 0;
  return sum;
}

}  // namespace plait
