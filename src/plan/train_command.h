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
//   --zero 1                                 the framework shards the optimizer (ZeRO)
//                                            and the layout is data parallelism alone
//   --recompute block|selective              the layout recomputes (full: block)
//   --ranks-per-node K                       threads only, when the layout spans nodes
//                                            (MPI detects its nodes)
//   --checkpoint-dir runs/MODEL
// What train cannot do as planned is listed in `notes` (ZeRO beyond stage 1 or with a
// mesh; a vocabulary other than the byte tokenizer's 256).
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

TrainCommand train_command(const ModelSpec& m, const ClusterSpec& c, const Layout& l,
                           double tokens, int zero_stage = 0);

}  // namespace plait::plan
