// The flags of `plait train`, registered once here and shared by `plait simulate`
// (a train command line is simulated by changing one word), so both commands read
// the same names, the same defaults and choose the same layout.
#pragma once
#include <CLI/CLI.hpp>

#include "parallel/train_options.h"

namespace plait::cli {

// `plait train`'s defaults: the demo model (4 blocks of 128 channels, 4 heads, 128
// bytes of context), batch 16, 500 steps, lr 2e-3, validation every 100 steps.
TrainOptions train_defaults();

// Adds every flag of `plait train` to `cmd`, bound to `opt` (which holds the defaults).
void add_train_flags(CLI::App* cmd, TrainOptions& opt);

// --init-from (a new run, not one that resumes): the model is the weights' (opened and
// checked once, before any worker starts). Model flags given explicitly must agree;
// --ctx may be shorter. Says so on stderr unless --no-progress.
void adopt_init_config(const CLI::App& cmd, TrainOptions& opt);

// False in every process an MPI launcher started except its rank 0 (read from the
// launcher's environment: OMPI_COMM_WORLD_RANK, PMI_RANK, SLURM_PROCID), so that a
// note printed before MPI starts appears once, not once per rank.
bool first_process();

// True when the user gave `flag` (e.g. "--lr") on the command line.
bool given(const CLI::App& cmd, const std::string& flag);

// The number of workers, after parsing (what `plait train` runs):
//   - under --backend mpi the world is mpirun's -np, so --workers is refused;
//   - with --dp/--tp/--pp and no --workers, dp x tp x pp workers;
//   - with no layout flag at all (--workers --dp --tp --pp --servers), one
//     data-parallel worker per core (at most one per sequence of the batch).
// Returns the line that explains a default layout ("" when the flags fixed it).
std::string resolve_layout(const CLI::App& cmd, TrainOptions& opt);

// --stages auto with a pipeline: opt.stages, the fastest split by cost within each
// stage's memory (cli/stage_choice.h); says so on stderr unless --no-progress. With
// --repartition-threshold also opt.stage_costs (the head's work, the stages' memory).
void resolve_auto_stages(TrainOptions& opt);

}  // namespace plait::cli
