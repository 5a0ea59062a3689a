// Choosing the blocks per pipeline stage by cost, within each stage's memory
// (--stages auto, the planner's uneven splits, repartitioning during a run).
//
// Stage s holding k blocks is busy scale[s] x (k + extra[s]) block-times per
// micro-batch (extra: the embedding's or the LM head's work, in blocks; scale: how many
// times slower the stage runs) and needs fixed_bytes[s] + k x block_bytes[s] of memory
// (both linear in k: weights, gradients, moments and saved activations grow by one
// block's worth per block; what the stage holds beside its blocks is fixed). A
// partition is feasible when every stage holds at least one block and fits the limit;
// the best feasible one has the least busiest stage. Exact: dynamic programming over
// prefixes, O(P x L²).
//
// With micro_batches M > 0 the best one has the shortest STEP instead: the makespan of
// the pipeline schedule over M micro-batches (simulate_pipeline, layout/schedule.h;
// a stage's forward a third of its busy time, its backward two thirds). With few
// micro-batches the fill and drain weigh as much as the busiest stage: --layers 6
// --pp 2, M = 2, stage 1 2x slower, head 0.29 blocks: 4,2 has the least busiest
// stage (4.58 against 5,1's 5) but a 21% longer step (13.16 against 10.91 block-times),
// as measured (docs/BALANCE.md). Exact over every partition while there are at most
// kExhaustivePartitions of them, else a local search (one block across one boundary
// at a time) from the least-busiest partition.
#pragma once
#include <string>
#include <vector>

#include "layout/schedule.h"

namespace plait {

struct StageCosts {
  std::vector<double> extra;        // per stage: work beside its blocks, in blocks
  std::vector<double> scale;        // per stage: times slower (1 on equal hardware)
  std::vector<double> fixed_bytes;  // per stage: memory beside its blocks (empty: 0)
  std::vector<double> block_bytes;  // per stage: memory per block it holds (empty: 0)
  double limit_bytes = 0;           // each stage's memory at most this; 0: no limit
  int micro_batches = 0;            // > 0: least simulated step; 0: least busiest stage
  PipeSchedule schedule = PipeSchedule::one_f_one_b;  // the step's schedule (M > 0)
};

// Partitions searched exhaustively for the least step (C(L-1, P-1) of them).
inline constexpr double kExhaustivePartitions = 20000;

struct StagePartition {
  std::vector<int> sizes;       // the best feasible partition: sum = layers, each >= 1
  double busiest = 0;           // its busiest stage, scale x (blocks + extra)
  double peak_bytes = 0;        // its largest stage memory
  std::vector<int> fastest;     // the best partition when memory is ignored
  double fastest_busiest = 0;   // ... its busiest stage
  double fastest_peak_bytes = 0;  // ... and its largest stage memory
  double step = 0;              // its simulated step in block-times (micro_batches > 0)
  bool memory_bound() const { return sizes != fastest; }  // the limit changed the choice
};

// Busiest stage and largest memory of `sizes` under `c`.
double busiest_stage(const std::vector<int>& sizes, const StageCosts& c);
double peak_stage_bytes(const std::vector<int>& sizes, const StageCosts& c);
// The simulated step of `sizes` under c (c.micro_batches >= 1), in block-times.
double pipeline_step(const std::vector<int>& sizes, const StageCosts& c);

// The best feasible partition of `layers` blocks over c.scale.size() stages. Among
// equally busy (or equally long) partitions the earlier stages take more blocks. UsageError when the
// sizes of the vectors disagree, unless 1 <= stages <= layers, or when no partition
// fits the limit: "no split of 6 blocks into 2 pipeline stages fits 1.0 MiB per stage;
// the least memory, 3,3, needs 1.4 MiB (stage 0)".
StagePartition partition_stages(int layers, const StageCosts& c);

// "4,2"
std::string stages_string(const std::vector<int>& sizes);

// Repartitioning during a run (--repartition-threshold, docs/BALANCE.md): what the
// measured busy time per stage of the partition `sizes` predicts. Stage s's cost per
// unit of work, busy[s] / (sizes[s] + c.extra[s]), becomes its scale (c.scale is
// ignored), so a stage slower than its blocks explain (a slow rank, a heavier head
// than the cost model's) counts as slower hardware; the best partition under those
// costs and c's memory is `best`, its predicted busiest stage `predicted`, in busy's
// units. With c.micro_batches > 0 both figures are steps instead: the simulated step
// of `sizes` and of `best` under those costs (busy[s] / M per micro-batch), so the
// advice follows the objective --stages auto chose by. With `best` == sizes,
// predicted == measured (so too when a busy time is not positive: nothing to go on).
struct RepartitionAdvice {
  std::vector<int> best;
  double measured = 0;   // the busiest stage now: max busy[s] (M > 0: the step now)
  double predicted = 0;  // the busiest stage of `best`, predicted (M > 0: its step)
  // How much slower the run is now than the best partition predicts (0.25: 25%).
  double excess() const { return predicted > 0 ? measured / predicted - 1 : 0; }
};
RepartitionAdvice advise_repartition(const std::vector<int>& sizes,
                                     const std::vector<double>& busy, StageCosts c);

}  // namespace plait
