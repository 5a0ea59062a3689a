// One worker's part of a training run: a whole replica, the StepRunner of the one
// worker and of data parallelism (the loop: run_loop.h).
//
// A Replica holds a full copy of the model and its optimizer. Each step it takes its
// share [first_seq, first_seq + seqs) of the global batch, accumulates the SUM of the
// per-sequence gradients, hands them to its GradSync (null with one worker) which
// turns them into the global batch's sums, then divides by the global batch once,
// clips and steps AdamW. Because every rank ends a step with bit-identical gradient
// sums, replicas that start identical stay identical.
//
// Rank 0 alone has a RunOutput: it logs, evaluates and commits checkpoints.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "data/corpus.h"
#include "data/dataset.h"
#include "data/eval_windows.h"
#include "data/sampler.h"
#include "fault/checkpoint_writer.h"
#include "model/adamw.h"
#include "model/gpt.h"
#include "obs/trace.h"
#include "parallel/run_loop.h"
#include "parallel/run_output.h"
#include "parallel/train_options.h"
#include "parallel/train_summary.h"
#include "parallel/zero.h"

namespace plait {

// What every rank reads and nobody writes: the dataset (tokens and tokenizer), the
// sampler, the validation windows. Loaded once per process; opt.model.vocab must be
// the tokenizer's (train() sets it: resolve_data()).
struct RunData {
  data::Dataset dataset;
  data::Sampler sampler;
  data::EvalWindows val;
  explicit RunData(const TrainOptions& opt);                // opt.data_options()
  RunData(const TrainOptions& opt, data::Dataset dataset);
  RunData(const TrainOptions& opt, data::Corpus corpus);   // a byte corpus in memory
  // The resume fingerprint: the options plus the data's size, hash and tokenizer.
  nlohmann::json fingerprint(const TrainOptions& opt) const;
};

// Turns a replica's local gradient sums into the global batch's sums, in place.
// Per step: begin_step(); ready(offset) as the last micro-batch's backward pass goes
// (arena offsets >= offset are final); finish() after the backward pass.
class GradSync {
 public:
  virtual ~GradSync() = default;
  virtual void begin_step(std::vector<float>& grads) = 0;
  virtual void ready(size_t offset) = 0;
  // Waits for every gradient to be reduced; returns the global sum of `loss_sum`.
  virtual double finish(double loss_sum) = 0;
  // finish() without the loss: the caller sums it in its StepExchange (step_exchange.h),
  // together with the step's timings (a replica with an exchange calls it instead of
  // finish). A sync whose loss cannot be summed apart from its gradients says so by
  // throwing (BackupSync: the loss is its contributors').
  virtual void finish_gradients() = 0;
  // Whether this rank computes its share's gradients this step (a backup worker that
  // is behind the others skips steps that closed without it: backup_sync.h).
  virtual bool wants_gradients() const { return true; }
  // The sequences the reduced gradient of the last finish() sums over: the global
  // `batch`, except with backup workers (the contributors' sequences).
  virtual int64_t divisor(int64_t batch) const { return batch; }
  // ZeRO-2/3 with several micro-batches: every micro-batch's gradients are reduced
  // (ready() during its backward pass, ready(0) after it), and next_round() waits for
  // that before the next micro-batch's backward pass adds to the arena again.
  virtual bool reduces_each_micro_batch() const { return false; }
  virtual void next_round() {}
  // Called before each backward pass: `opens_round` when nothing has been added to the
  // arena since the last reduction (the step's first micro-batch, or each one when each
  // is reduced), so the pass writes every gradient afresh.
  virtual void pass_begins(bool opens_round) { (void)opens_round; }
};

class WorkSteal;       // parallel/dp_steal.h
class StepExchange;    // parallel/step_exchange.h
class ShardSnapshots;  // parallel/shard_snapshot.h

struct Replica : StepRunner {
  const TrainOptions& opt;
  const RunData& data;
  GPT model;
  AdamW adam;
  LrSchedule schedule;
  int rank = 0;
  int64_t first_seq = 0, seqs = 0;  // this rank's share of each global batch
  RunOutput* out = nullptr;         // rank 0 only
  obs::Trace* trace = nullptr;      // shared by all ranks (may be disabled)
  GradSync* sync = nullptr;         // null: one worker (ZeRO: owned buckets)
  BalanceHook* balance = nullptr;   // data parallelism's (dp_balance.h); null otherwise
  Zero* zero = nullptr;             // --zero 1|2|3: the sharded update (zero.h)
  WorkSteal* steal = nullptr;       // --balance auto: micro-batches claimed within a step
  // With a sync: the loss sum and the step's timing in one exchange after the gradients
  // (sync->finish_gradients()); null: sync->finish() sums the loss.
  StepExchange* exchange = nullptr;
  int64_t step = 0;
  StepTiming timing;                // of the last step
  double wait_cpu_s = 0;            // thread CPU seconds in the sync's waits, all steps so far
  nlohmann::json resumed_extra;     // the checkpoint's "extra" after start() resumed
  // Step s trains on the sampler's batch s + data_shift (0 unless --on-nonfinite
  // rollback moved past a failed window); kept in checkpoints' extra.data_shift.
  int64_t data_shift = 0;
  std::function<void()> barrier;    // over the data-parallel ranks (null: one worker)
  int snapshot_peer = -1;           // the rank keeping the second memory snapshot (peer_snapshot.h)
  ShardSnapshots* pieces = nullptr;  // --zero with memory snapshots: this rank's piece (shard_snapshot.h)
  // The smallest of every data-parallel rank's value (ZeRO: naming the first
  // non-finite tensor, each rank looking at its shard); null: one worker.
  std::function<int64_t(int64_t)> min_over_ranks;

  Replica(const TrainOptions& o, const RunData& d, int rank, int64_t first_seq, int64_t seqs);

  // Loads the checkpoint (--resume) or initialises the weights from the seed.
  void start();
  // One optimizer step; returns the global batch's mean training loss.
  double train_step(double& grad_norm);
  // StepRunner: train_step as the run loop drives it; rank 0's evaluation and
  // checkpoint (the single-worker format).
  StepResult run_step(int64_t t, bool checkpoint_after) override;
  double validation_loss() override;
  std::string save(int64_t steps) override;
  void wait_for_checkpoints() override;
  void snapshot(int64_t steps, const std::string& dir) override;
  std::string describe() const override;
  std::string nonfinite_tensor() const override;
  int64_t rollback(int64_t failed) override;
  BalanceHook* balance_hook() override { return balance; }
  StepTiming step_timing() const override { return timing; }
  // Takes the share [first, first + count) of every global batch from the next step.
  void set_share(int64_t first, int64_t count);
  // The gradient SUM of this rank's share of batch `step`, accumulated into
  // model.grads (zero them first); returns the loss sum. train_step's first half, also
  // used by parameter-server workers (param_server.h). Sets timing.compute_s; a
  // --slowdown of this rank sleeps (FACTOR - 1) x each micro-batch's time after it.
  // With `steal`, the micro-batches are the ones it hands out (dp_steal.h).
  double accumulate();
  // This rank's bytes by kind (parallel/memory_report.h).
  RankMemory memory() const;

 private:
  // One micro-batch [first, first + b) of batch `step` (`first_mb`: the step's first;
  // `last`: its last, known in advance): forward, backward (reporting ready gradients
  // to the sync when last, or for each micro-batch under ZeRO-2/3's rounds), the
  // --slowdown throttle; its loss sum.
  double micro_batch(int64_t first, int b, bool first_mb, bool last, double slow);
  bool memory_logged_ = false;  // the memory line follows the invocation's first step
  std::vector<int32_t> inputs_, targets_;
  AdamW gathered_;  // ZeRO, rank 0: the full moments for the next save
  std::unique_ptr<CheckpointWriter> writer_;  // --checkpoint-writer background, rank 0
  std::unique_ptr<CheckpointWriter> snapshots_;  // --memory-snapshot-every, rank 0
  bool nan_injected_ = false;  // the PLAIT_TEST_NAN_AT hook fired (once per process)
};

// --on-nonfinite rollback of one rank's state (a replica's or a mesh rank's) after step
// `failed` was not finite: the newest committed checkpoint of opt.checkpoint_dir into
// `model` and `adam` (under ZeRO, `zero` not null: the whole moments, of which it keeps
// this rank's shard), and `data_shift` moved past the failed window. Returns the
// checkpoint's step. The caller has first waited for its own checkpoint writes and met
// every other rank, so that the newest checkpoint is committed before any rank reads it.
int64_t roll_back_state(const TrainOptions& opt, const nlohmann::json& fingerprint, GPT& model,
                        AdamW& adam, Zero* zero, int64_t failed, int64_t& data_shift);

// The run loop on a replica from its step to the end of this invocation: rank 0 (the
// one with `out`) logs, evaluates and checkpoints. Returns the summary (rank 0's).
TrainSummary run_replica(Replica& r);

}  // namespace plait
