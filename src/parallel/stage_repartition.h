// Repartitioning a pipeline during a run (--repartition-threshold, docs/BALANCE.md
// "Repartitioning during a run").
//
// After every step every rank of the mesh shares the seconds it spent computing its
// forwards and backwards in that step (one allgather of a double over the world); a
// stage's busy time is its slowest rank's. layout/stage_partition.h's
// advise_repartition turns the busy times into per-stage costs and predicts the best
// partition under them (within each stage's memory). When the busiest stage exceeds
// that prediction by more than the threshold for --repartition-after steps in a row
// (the first step of an invocation, warming up, is no sample), the advice of the
// streak's summed busy times is taken: every rank stops after this step, the loop
// commits a checkpoint, rank 0 writes the new stages to RUN_DIR/repartition, and the
// process exits with fault::kRepartitionExit (3). The supervisor (--max-restarts)
// restarts it with --resume auto --stages a,b,...; checkpoints are layout-free, so the
// resumed run trains the same model.
//
// Every rank decides the same: they hold the same allgathered doubles and do the same
// arithmetic. Test hook: PLAIT_TEST_REPARTITION_AT=S:a,b,... decides for stages a,b,...
// after step S regardless of the measurements (a resumed run starts at S, past it).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "comm/group.h"
#include "parallel/mesh.h"
#include "parallel/run_loop.h"

namespace plait {

class StageRepartition : public RestageHook {
 public:
  // `busy_total`: this rank's compute seconds so far (forwards and backwards).
  StageRepartition(comm::Group& world, const TrainOptions& opt, MeshShape shape,
                   std::vector<int> sizes, std::function<double()> busy_total);

  bool after_step(int64_t done, RunOutput* out) override;
  std::vector<int> stages() const override { return next_; }

 private:
  bool decide(int64_t done, const std::vector<double>& busy, RunOutput* out);
  void announce(int64_t done, const std::vector<double>& busy, double measured,
                double predicted, const char* why, RunOutput* out);

  comm::Group& world_;
  const TrainOptions& opt_;
  MeshShape shape_;
  std::vector<int> sizes_, next_;
  std::function<double()> busy_total_;
  double last_total_ = 0;
  bool first_ = true;         // the invocation's first step: no sample
  int streak_ = 0;            // steps in a row over the threshold
  std::vector<double> summed_;  // their busy times per stage, summed
};

}  // namespace plait
