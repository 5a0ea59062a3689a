// plait train: trains a GPT on text (README.md, "The plait command"; the loop itself:
// docs/ARCHITECTURE.md, "One training step"). The flags are cli/train_flags.h.
#include <cstdio>
#include <memory>

#include "cli/machine_checks.h"
#include "cli/output_paths.h"
#include "cli/registry.h"
#include "cli/resume.h"
#include "cli/run_guard.h"
#include "cli/supervise_cmd.h"
#include "cli/train_flags.h"
#include "fault/supervisor.h"
#include "parallel/trainer.h"

namespace plait::cli {
namespace {

// Every path the run writes is ready (or refused) before the first step, not after
// the last; without a checkpoint directory the user hears once that nothing is kept.
void prepare_outputs(const TrainOptions& opt) {
  prepare_output_file(opt.log_path, "--log");
  prepare_output_file(opt.trace_path, "--trace");
  prepare_output_dir(opt.checkpoint_dir, "--checkpoint-dir");
  if (opt.checkpoint_dir.empty() && opt.progress && first_process())
    std::fprintf(stderr, "note: no --checkpoint-dir, so the trained model will not be kept\n");
}

void add_train(Context& ctx) {
  auto opt = std::make_shared<TrainOptions>(train_defaults());
  auto* cmd = ctx.root.add_subcommand("train", "train a GPT on text files");
  add_train_flags(cmd, *opt);
  cmd->callback([&ctx, opt, cmd] {
    ctx.rc = 0;
    if (supervising(*opt)) {  // the child does everything else
      ctx.rc = supervise_train(*opt);
      return;
    }
    adopt_memory_snapshot(*opt);  // before --resume, which may resume from it
    // The checkpoint's settings first: the default layout depends on the batch.
    if (!apply_resume(*cmd, resume_mode(*cmd), *opt)) return;  // nothing left to train
    adopt_init_config(*cmd, *opt);  // a new run from given weights: their model
    const std::string layout = resolve_layout(*cmd, *opt);
    opt->validate();  // bad flags are refused before any directory is made
    resolve_auto_stages(*opt);  // --stages auto: by cost, once the layout is valid
    check_train_machine(*opt);  // threads and memory, before allocating
    if (!layout.empty() && opt->progress) std::fprintf(stderr, "%s\n", layout.c_str());
    prepare_outputs(*opt);
    const RunGuard guard(*opt);  // locked, writable, not another run's (--overwrite)
    record_run(*cmd, *opt);
    // --repartition-threshold: checkpointed and ended for new stages (RUN_DIR/repartition)
    if (!train(*opt).restage.empty()) ctx.rc = fault::kRepartitionExit;
  });
}

Registrar reg("train", add_train);

}  // namespace
}  // namespace plait::cli
