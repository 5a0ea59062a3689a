// `plait simulate`'s model of a local run: layouts from train's flags, the local
// machine as a cluster, and what the predicted step time is made of.
#include "plan/simulate.h"

#include <gtest/gtest.h>

#include "plan/flops.h"
#include "util/error.h"

namespace plait::plan {
namespace {

ModelSpec demo() { return *find_model_preset("demo"); }

MachineProfile profile() {
  MachineProfile p;
  p.sgemm_flops = 100e9;
  p.memory_Bps = 10e9;
  p.gelu_per_s = 0.5e9;
  p.link = {2e-6, 5e9};
  p.cores = 2;
  p.memory_bytes = 16e9;
  p.source = "test";
  return p;
}

TEST(Simulate, LayoutFromTrainFlags) {
  RunFlags f;
  f.workers = 4;
  Layout l = layout_from_flags(demo(), f);
  EXPECT_EQ(l.dp, 4);
  EXPECT_EQ(l.micro_batches, 1);
  EXPECT_EQ(l.micro_batch, 4);  // 16 sequences over 4 ranks
  f = {};
  f.tp = 2, f.pp = 2;
  l = layout_from_flags(demo(), f);
  EXPECT_EQ(l.devices(), 4);
  EXPECT_EQ(l.dp, 1);
  EXPECT_EQ(l.micro_batches, 2);  // default M = pp
  f.micro_batches = 8, f.workers = 8;
  l = layout_from_flags(demo(), f);
  EXPECT_EQ(l.dp, 2);
  EXPECT_EQ(l.micro_batch, 1);
  f = {};
  f.workers = 2, f.micro_batch = 2;  // train's --micro-batch: 8 sequences per rank in 4
  l = layout_from_flags(demo(), f);
  EXPECT_EQ(l.micro_batches, 4);
  f.sync = SyncAlgorithm::mpi;  // OpenMPI's own allreduce, costed as ring
  EXPECT_EQ(layout_from_flags(demo(), f).sync, SyncAlgorithm::ring);
}

TEST(Simulate, BadLayoutsAreUsageErrors) {
  RunFlags f;
  f.workers = 6, f.tp = 4;
  EXPECT_THROW(layout_from_flags(demo(), f), UsageError);  // 6 not a multiple of 4
  f = {};
  f.workers = 4, f.dp = 2, f.tp = 1;
  EXPECT_THROW(layout_from_flags(demo(), f), UsageError);  // 2 x 1 x 1 != 4
  f = {};
  f.tp = 3;
  EXPECT_THROW(layout_from_flags(demo(), f), UsageError);  // 3 does not divide 4 heads
  f = {};
  f.pp = 8;
  EXPECT_THROW(layout_from_flags(demo(), f), UsageError);  // more stages than layers
  f = {};
  f.micro_batches = 32;
  EXPECT_THROW(layout_from_flags(demo(), f), UsageError);  // M above 16 sequences
  f = {};
  EXPECT_THROW(parse_algorithm("carrier-pigeon"), UsageError);
}

TEST(Simulate, WorkersBeyondTheCoresShareThem) {
  const ClusterSpec two = local_cluster(profile(), 2, 1, 0, {}, {});
  const ClusterSpec four = local_cluster(profile(), 4, 1, 0, {}, {});
  EXPECT_DOUBLE_EQ(two.device.peak_flops, 100e9);
  EXPECT_DOUBLE_EQ(four.device.peak_flops, 50e9);
  EXPECT_DOUBLE_EQ(four.device.memory_Bps, 5e9);
  EXPECT_EQ(four.devices_per_node, 4);
  EXPECT_EQ(four.format, Format::fp32);
  const LinkSpec slow{50e-6, 1e9};
  const ClusterSpec nodes = local_cluster(profile(), 8, 1, 2, std::nullopt, slow);
  EXPECT_EQ(nodes.devices_per_node, 2);
  EXPECT_DOUBLE_EQ(nodes.inter.latency_s, 50e-6);
  EXPECT_DOUBLE_EQ(nodes.intra.latency_s, 2e-6);
}

LocalRun run_of(const RunFlags& f, int cores = 2) {
  return local_run_from_flags(demo(), f, 0, cores, 0, std::nullopt, std::nullopt);
}

// With free memory traffic, GELU, attention and links, one worker's step is the
// matrix products' FLOPs at the sgemm rate x its BLAS threads (cores / workers = 2).
TEST(Simulate, OneWorkerStepIsTheProductsAtTheSgemmRate) {
  MachineProfile p = profile();
  p.memory_Bps = 1e30, p.gelu_per_s = 1e30, p.attention_flops = 1e30;
  const ModelSpec m = demo();
  const LocalRun run = run_of(RunFlags{});
  EXPECT_EQ(run.blas_threads, 2);
  const Simulation s = simulate(run, p, 100);
  const double h = m.dim, tokens = double(m.batch) * m.ctx;
  const double flops = 3 * tokens * (m.layers * 24 * h * h + 2 * h * m.vocab);
  EXPECT_NEAR(s.cost.step_s, flops / (2 * p.sgemm_flops), 1e-6);
}

TEST(Simulate, DataParallelWorkersSplitTheComputeAndPayForTheSync) {
  const MachineProfile p = profile();
  RunFlags f;
  f.workers = 1;
  const Simulation one = simulate(run_of(f), p, 1);
  f.workers = 2;
  const Simulation two = simulate(run_of(f), p, 1);
  EXPECT_EQ(two.run.layout.sync, SyncAlgorithm::direct);  // train's choice for 2
  EXPECT_GT(two.cost.dp_comm_s, 0);
  EXPECT_LT(two.cost.step_s, one.cost.step_s);
  f.workers = 4;  // on 2 cores: no faster than 2 workers
  const Simulation four = simulate(run_of(f), p, 1);
  EXPECT_GE(four.cost.step_s, two.cost.step_s * 0.99);
  EXPECT_FALSE(four.notes.empty());
}

TEST(Simulate, ProfileRoundTripsThroughJsonAndBadProfilesNameTheField) {
  const MachineProfile p = profile();
  const MachineProfile q = MachineProfile::from_json(p.to_json(), "p.json");
  EXPECT_DOUBLE_EQ(q.sgemm_flops, p.sgemm_flops);
  EXPECT_DOUBLE_EQ(q.link.latency_s, p.link.latency_s);
  EXPECT_EQ(q.cores, 2);
  nlohmann::json j = p.to_json();
  j.erase("memory_gbps");
  try {
    MachineProfile::from_json(j, "p.json");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("p.json: field 'memory_gbps'"), std::string::npos);
  }
}

TEST(Simulate, JsonCarriesTheStepAndMemory) {
  const MachineProfile p = profile();
  const ModelSpec m = demo();
  const Simulation s = simulate(run_of(RunFlags{}), p, 10);
  const nlohmann::json j = simulate_json(s);
  EXPECT_DOUBLE_EQ(j["step_s"].get<double>(), s.cost.step_s);
  EXPECT_DOUBLE_EQ(j["run_s"].get<double>(), 10 * s.cost.step_s);
  EXPECT_GT(j["memory_bytes"].get<double>(), 16 * m.params());
  EXPECT_NE(simulate_text(s).find("step"), std::string::npos);
}

}  // namespace
}  // namespace plait::plan
