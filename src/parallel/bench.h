// The measurements behind `plait bench train` for layouts of workers: timed training
// steps of the trainers' own step code (Replica::train_step, MeshWorker::train_step)
// on random bytes, on in-process workers. opt.data, logging, evaluation and
// checkpoints are ignored. (One worker's step against sgemm: train_bench.h.)
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "parallel/train_options.h"

namespace plait {

// Random bytes (from opt.seed), enough for benchmarks that ignore the text.
data::Corpus random_corpus(const TrainOptions& opt);

// `plait bench train --workers N`: `steps` timed steps (after `warmup`) on opt.workers
// data-parallel workers (1: the single-worker step, no communication).
struct DataParallelBench {
  std::string sync;             // the method used ("" for one worker)
  size_t buckets = 0;
  double median_step_s = 0;     // rank 0's
  double tokens_per_s = 0;      // global batch tokens / median step
  double comm_wait_share = 0;   // time the compute thread waited for gradients / step
                                // time, over the timed steps, mean over ranks
};
DataParallelBench bench_data_parallel(const TrainOptions& opt, int warmup, int steps);

// `plait bench train --tp T --pp P ...`: `steps` timed steps (after `warmup`) of opt's
// mesh on opt.workers threads.
struct MeshBench {
  double median_step_s = 0;   // rank 0's
  double tokens_per_s = 0;    // global batch tokens / median step
  // Per stage: the share of the pipeline phase (the schedule, from its first op to
  // its last) that the stage spent NOT computing — waiting for activations or
  // gradients — over the timed steps, mean over the stage's tensor ranks and replicas.
  std::vector<double> stage_bubble;
  double bubble = 0;          // mean of stage_bubble
  // Per stage: compute time of one micro-batch's forward and backward (s), mean over
  // the timed steps and the stage's ranks (with tp > 1 it includes the tensor
  // group's allreduces inside the blocks) — the f and b of simulate_pipeline().
  std::vector<double> stage_forward_s, stage_backward_s;
  // Per stage: its pipeline phase per step (s), mean as above. Every stage starts its
  // phase together (the previous step ends in collectives) and stage 0 ends last (its
  // last backward needs every other stage's), so stage_phase_s[0] is the pipeline's
  // makespan, the denominator of (P - 1) / (M + P - 1).
  std::vector<double> stage_phase_s;
};
MeshBench bench_mesh(const TrainOptions& opt, int warmup, int steps);

}  // namespace plait
