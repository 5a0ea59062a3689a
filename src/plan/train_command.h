// The `plait train` command line that runs a planned layout: in this process's
// threads (--workers) and under MPI (mpirun -np N ... --backend mpi). `plait plan`
// prints both for its recommendation and puts them in --json.
//
// Flags, from the layout (plan/layout.h) and the model:
//   --layers --dim --heads --ctx --batch     the model and its global batch
//   --steps ceil(tokens / (batch x ctx))     the tokens to train on
//   --dp --tp --pp                           the mesh (--workers dp*tp*pp in threads;
//                                            under MPI the ranks are mpirun's -np)
//   --micro-batches M                        with a pipeline (pp > 1)
//   --micro-batch b                          without one, when b is less than a
//                                            data-parallel rank's share
//   --sync NAME                              with dp > 1 (not with --zero)
//   --zero N                                 with dp > 1, the framework's ZeRO stage
//                                            (train_zero_stage)
//   --recompute block|selective              the layout recomputes (full: block)
//   --ranks-per-node K                       threads only, when the layout spans nodes
//                                            (MPI detects its nodes)
//   --checkpoint-dir runs/MODEL
// What train cannot do as planned is listed in `notes` (ZeRO-3 over replicas with
// unequal micro-batch counts; a vocabulary other than the byte tokenizer's 256).
#pragma once
#include <string>
#include <vector>

#include "plan/cluster_spec.h"
#include "plan/layout.h"
#include "plan/model_spec.h"

namespace plait::plan {

struct TrainCommand {
  std::vector<std::string> argv;      // build/plait train ... (threads)
  std::vector<std::string> mpi_argv;  // mpirun -np N build/plait train --backend mpi ...
  std::vector<std::string> notes;     // where train departs from the plan
};

// The --zero stage train runs for the framework's `zero` stage: the same, except 2 for
// 3 where the replicas' shares of the batch would run unequal micro-batch counts
// (--zero 3 gathers each block collectively, so every replica runs as many).
int train_zero_stage(const ModelSpec& m, const Layout& l, int zero);

TrainCommand train_command(const ModelSpec& m, const ClusterSpec& c, const Layout& l,
                           double tokens, int zero_stage = 0);

}  // namespace plait::plan
