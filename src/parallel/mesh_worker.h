// One rank of a model-parallel run (docs/MODEL_PARALLEL.md): its stage of the model,
// its optimizer, its groups, and the step of parallel/mesh_trainer.h's comment,
// operation by operation. mesh_trainer.cpp runs it in the training loop;
// mesh_bench.cpp times it.
//
// Ordering within a step: the pipeline schedule's operations in order (forwards
// receive from stage s-1 and send to s+1 without waiting; a forward's send completes
// before its slot is freed by the micro-batch's backward; every send completes before
// run_schedule returns); then the tied-wte sum, the dp allreduce, the loss sum, the
// norm over the model-parallel group and the AdamW step: the same collectives in the
// same order on every rank. Under --zero (parallel/zero.h) the dp allreduce, the loss
// sum, the norm and the step are Zero::step's reduce-scatter over the dp group, one
// allreduce of the loss and the squares over the world, the shard's update and the
// allgather of the parameters over the dp group.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "comm/collectives.h"
#include "comm/comm.h"
#include "fault/checkpoint_writer.h"
#include "model/adamw.h"
#include "model/gpt.h"
#include "parallel/mesh.h"
#include "layout/schedule.h"
#include "parallel/replica.h"
#include "parallel/run_loop.h"
#include "parallel/run_output.h"
#include "parallel/shard_snapshot.h"
#include "parallel/train_summary.h"
#include "parallel/zero.h"

namespace plait {

class MeshWorker : public StepRunner {
 public:
  MeshWorker(comm::Comm& c, const TrainOptions& o, const RunData& d);
  ~MeshWorker() override;

  void start();
  double train_step(double& norm);
  RankMemory memory() const;
  size_t optimizer_bytes() const;  // this rank's AdamW moments
  size_t gradient_bytes() const;   // its gradient arena's resident bytes
  size_t parameter_bytes() const;  // its parameter arena's resident bytes
  void gather_params();            // --zero 3, collective: the whole arena, no more gate
  std::string layout_line() const;  // "layout dp2 x tp1 x pp2 on 4 workers: ..."
  // StepRunner: train_step as the run loop drives it; evaluation and checkpoints are
  // collective (every rank takes part).
  StepResult run_step(int64_t t, bool checkpoint_after) override;
  BalanceHook* balance_hook() override { return balance; }
  StepTiming step_timing() const override { return timing; }
  // Takes the sequences [first_seq, first_seq + count) of every global batch from the
  // next step (count: a multiple of the pipeline's micro-batches when pp > 1).
  void set_share(int64_t first_seq, int64_t count);
  int64_t share() const { return share_; }
  int micro_batches() const { return micro_batches_; }
  double validation_loss() override;
  // Collective (every rank's boxes). --checkpoint-writer background: a snapshot here,
  // the collective write on the ranks' writer threads (their own group, writers_).
  std::string save(int64_t step) override;
  // --memory-snapshot-every: this rank's piece, kept on its node and a peer's
  // (parallel/shard_snapshot.h).
  void snapshot(int64_t steps, const std::string& dir) override;
  // Waits for this rank's background checkpoint write and its snapshot transfer.
  void wait_for_checkpoints() override;
  // --on-nonfinite rollback, collective: every rank reloads its boxes (under --zero:
  // its shard of the moments) from the newest committed checkpoint.
  int64_t rollback(int64_t failed) override;
  std::string describe() const override;
  // Collective over the world: the first non-finite tensor in the whole model's table
  // order, over every rank's owned boxes (under --zero: its shard of the arena).
  std::string nonfinite_tensor() const override;

  const TrainOptions& opt;
  const RunData& data;
  const MeshShape shape;
  const int rank;
  const MeshCoord me;
  comm::Group world;
  MeshGroups groups;
  GPT model;  // this rank's stage: its blocks, tensor split, embedding / head
  AdamW adam;
  LrSchedule schedule;
  int64_t step = 0;
  RunOutput* out = nullptr;
  obs::Trace* trace = nullptr;
  SyncChoice sync;
  double busy_s = 0;      // time in forward/backward compute, all steps
  double fwd_s = 0, bwd_s = 0;  // busy_s split into forwards and backwards
  int64_t fwd_n = 0, bwd_n = 0;  // ... and how many of each
  double pipeline_s = 0;  // time in run_schedule, all steps
  // The last step: compute = its pipeline's wall time on this rank (forwards,
  // backwards and the waits between stages: a replica runs at its slowest stage's
  // pace), wait = its data-parallel allreduce.
  StepTiming timing;
  BalanceHook* balance = nullptr;  // --balance over the replicas (dp > 1)
  nlohmann::json resumed_extra;     // the checkpoint's "extra" after start() resumed
  // Step s trains on the sampler's batch s + data_shift (0 unless --on-nonfinite
  // rollback moved past a failed window); kept in checkpoints' extra.data_shift.
  int64_t data_shift = 0;

 private:
  bool first() const { return model.layout().first; }
  bool last() const { return model.layout().last; }
  int micro_size(int micro) const {
    return static_cast<int>(std::min<int64_t>(mb_, share_ - int64_t{micro} * mb_));
  }
  double run_schedule();
  double forward_op(int micro);
  void backward_op(int micro);
  void finish_sends();
  double global_grad_norm();
  void inject_nan(std::vector<float>& grads);  // the PLAIT_TEST_NAN_AT hook
  double zero_update(double loss, double& norm);  // the step's end under --zero
  // A trace event from t0 to now named `what` (and the micro-batch, if >= 0).
  void traced(const char* what, int micro, const char* cat, int lane, double t0);

  bool memory_logged_ = false;  // the memory line follows the invocation's first step
  bool nan_injected_ = false;   // the PLAIT_TEST_NAN_AT hook fired (once per rank)
  PipeSchedule kind_;
  int micro_batches_ = 1;
  int64_t share_ = 0, first_seq_ = 0, mb_ = 0;
  std::unique_ptr<comm::Allreduce> dp_ar_;
  // --zero: the data-parallel axis of this (tp, pp) coordinate shards the optimizer
  // (and the gradients, stage 2); made by start() once the state is loaded.
  std::unique_ptr<Zero> zero_;
  AdamW gathered_;  // --zero: the full moments of the coordinate, for a save
  std::unique_ptr<ShardSnapshots> pieces_;  // --memory-snapshot-every (else null)
  std::vector<int32_t> inputs_, targets_;
  std::vector<float> recv_;  // [mb*T, C] an activation or its gradient
  std::map<int, comm::Request> fwd_sends_;  // micro-batch -> send of its output
  // d(input) of each micro-batch, copied out of the stage's scratch for its send to
  // stage s-1 (one buffer per micro-batch, allocated once; all sends complete by the
  // end of run_schedule).
  std::vector<std::vector<float>> bwd_bufs_;
  std::vector<comm::Request> bwd_sends_;
  // --checkpoint-writer background: a dup of the world that only the writer threads
  // use (their barriers), and this rank's writer (declared after: joined first).
  comm::Group writers_;
  std::unique_ptr<CheckpointWriter> writer_;
};

}  // namespace plait
