// The local model of a training step (plan/local_run.h): self-consistency of its
// predictions for the calibration layouts of docs/perf/planner.md. No timing: the
// profile is made up, the assertions are about directions and closed forms.
#include "plan/local_run.h"

#include <gtest/gtest.h>

#include "layout/schedule.h"
#include "layout/stages.h"
#include "plan/simulate.h"
#include "util/error.h"

namespace plait::plan {
namespace {

ModelSpec demo() {  // plait train's default model
  ModelSpec m;
  m.layers = 4, m.dim = 128, m.heads = 4, m.ctx = 128, m.batch = 16, m.vocab = 256;
  return m;
}

MachineProfile profile(int cores) {
  MachineProfile p;
  p.sgemm_flops = 50e9;
  p.memory_Bps = 10e9;
  p.gelu_per_s = 0.1e9;
  p.attention_flops = 20e9;
  p.link = {1e-6, 5e9};
  p.p2p = {5e-6, 3e9};
  p.p2p_sleep_latency_s = 40e-6;
  p.cores = cores;
  p.memory_bytes = 16e9;
  return p;
}

LocalPrediction predict(RunFlags f, int cores = 2) {
  const LocalRun r = local_run_from_flags(demo(), f, 0, cores, 0, std::nullopt, std::nullopt);
  return predict_local(r, profile(cores));
}

RunFlags flags(int workers, int dp, int tp, int pp, int micro_batches = 0,
               PipeSchedule schedule = PipeSchedule::one_f_one_b) {
  RunFlags f;
  f.workers = workers, f.dp = dp, f.tp = tp, f.pp = pp, f.micro_batches = micro_batches;
  f.schedule = schedule;
  return f;
}

TEST(LocalRun, TensorParallelismCommunicatesMoreThanOneWorker) {
  const LocalPrediction one = predict(flags(1, 0, 0, 0));
  const LocalPrediction tp2 = predict(flags(0, 0, 2, 0));
  EXPECT_EQ(one.tensor_comm_s, 0);
  EXPECT_EQ(one.dp_comm_s, 0);
  EXPECT_GT(tp2.tensor_comm_s, 0);
  // each tp rank computes about half of the blocks' work, but all of the head
  EXPECT_LT(tp2.compute_s, one.compute_s * 1.5);
  EXPECT_GT(tp2.compute_s, one.compute_s * 0.25);
}

TEST(LocalRun, MoreMicroBatchesShrinkThePipelineBubble) {
  // enough cores that the stages never share one: the bubble is the schedule's
  double last = 1;
  for (int M : {1, 2, 4, 8, 16}) {
    const LocalPrediction p = predict(flags(0, 0, 0, 2, M), 8);
    EXPECT_LT(p.bubble_fraction, last) << M;
    last = p.bubble_fraction;
  }
  // with M = 8 the stages' bubble is near (P-1)/(M+P-1) (the stages are unequal:
  // the last carries the head, the first the embeddings)
  const LocalPrediction p = predict(flags(0, 0, 0, 2, 8), 8);
  EXPECT_NEAR(p.bubble_fraction, ideal_bubble(2, 8), 0.1);
}

TEST(LocalRun, GpipeAndOneFOneBTakeTheSameTime) {
  const LocalPrediction g = predict(flags(0, 0, 0, 2, 4, PipeSchedule::gpipe), 8);
  const LocalPrediction o = predict(flags(0, 0, 0, 2, 4, PipeSchedule::one_f_one_b), 8);
  EXPECT_NEAR(g.step_s, o.step_s, 0.05 * o.step_s);
}

TEST(LocalRun, WorkersBeyondTheCoresShareThem) {
  const LocalPrediction on2 = predict(flags(4, 0, 0, 0, 0), 2);
  const LocalPrediction on8 = predict(flags(4, 0, 0, 0, 0), 8);
  EXPECT_DOUBLE_EQ(on2.peak_share, 0.5);
  EXPECT_DOUBLE_EQ(on8.peak_share, 1.0);
  EXPECT_GT(on2.step_s, 1.8 * on8.compute_s);
  // four workers on two cores are no faster than two
  EXPECT_GE(on2.step_s, 0.95 * predict(flags(2, 0, 0, 0, 0), 2).step_s);
}

TEST(LocalRun, DataParallelSyncGrowsWithASlowerLink) {
  RunFlags f = flags(4, 0, 0, 0);
  f.sync = SyncAlgorithm::ring;
  LocalRun r = local_run_from_flags(demo(), f, 0, 2, 0, std::nullopt, std::nullopt);
  const LocalPrediction fast = predict_local(r, profile(2));
  r.intra = LinkSpec{1e-3, 100e6};
  const LocalPrediction slow = predict_local(r, profile(2));
  EXPECT_GT(fast.dp_comm_s, 0);
  EXPECT_GT(slow.dp_comm_s, fast.dp_comm_s + 6 * 1e-3);  // 2(p-1) = 6 latency steps
}

TEST(LocalRun, HybridsRunEveryGroupsCollectives) {
  const LocalPrediction h = predict(flags(0, 2, 2, 0));
  EXPECT_GT(h.tensor_comm_s, 0);
  EXPECT_GT(h.dp_comm_s, 0);
  const LocalPrediction dp_pp = predict(flags(0, 2, 0, 2, 4, PipeSchedule::gpipe));
  EXPECT_GT(dp_pp.dp_comm_s, 0);
  EXPECT_GT(dp_pp.p2p_s, 0);
  EXPECT_GT(dp_pp.bubble_fraction, 0);
  const LocalPrediction tp_pp = predict(flags(0, 0, 2, 2, 4));
  EXPECT_GT(tp_pp.tensor_comm_s, 0);
  EXPECT_GT(tp_pp.p2p_s, 0);
  // rank 0's step adds up
  for (const LocalPrediction& p : {h, dp_pp, tp_pp})
    EXPECT_NEAR(p.compute_s + p.tensor_comm_s + p.p2p_s + p.dp_comm_s + p.other_comm_s +
                    p.optimizer_s,
                p.step_s, 1e-9 * p.step_s + 1e-12);
}

TEST(LocalRun, StagesAreTheTrainersAndMustAddUp) {
  EXPECT_EQ(balance_stages(4, 2), (std::vector<int>{2, 2}));
  EXPECT_EQ(balance_stages(5, 3), (std::vector<int>{2, 2, 1}));
  EXPECT_THROW(balance_stages(2, 3), UsageError);
  RunFlags f = flags(0, 0, 0, 2, 4);
  f.stages = {3, 1};
  EXPECT_GT(predict(f, 8).bubble_fraction, predict(flags(0, 0, 0, 2, 4), 8).bubble_fraction);
  f.stages = {3, 2};
  EXPECT_THROW(predict(f), UsageError);
}

TEST(LocalRun, ThreadShareInterpolatesTheMeasuredCurve) {
  MachineProfile p = profile(2);
  EXPECT_DOUBLE_EQ(p.thread_share(1), 1.0);  // no curve: min(1, cores / k)
  EXPECT_DOUBLE_EQ(p.thread_share(4), 0.5);
  p.parallel_share = {1.0, 0.8, 0.4, 0.2};  // a loaded machine: 1.6 cores for 2 threads
  EXPECT_DOUBLE_EQ(p.thread_share(2), 0.8);
  EXPECT_DOUBLE_EQ(p.thread_share(3), (1.6 + 1.6) / 2 / 3);
  EXPECT_DOUBLE_EQ(p.thread_share(16), 0.1);
  const MachineProfile q = MachineProfile::from_json(p.to_json(), "p.json");
  EXPECT_EQ(q.parallel_share, p.parallel_share);
  EXPECT_DOUBLE_EQ(q.p2p_latency(false), 40e-6);
  EXPECT_DOUBLE_EQ(q.attention_rate(), 20e9);
}

}  // namespace
}  // namespace plait::plan
