// plait train: trains a GPT on text (see docs/USAGE.md).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <thread>

#include "cli/machine_info.h"
#include "cli/registry.h"
#include "fault/weights.h"
#include "parallel/trainer.h"
#include "util/error.h"

namespace plait::cli {
namespace {

void add_model_flags(CLI::App* cmd, GPTConfig& m) {
  cmd->add_option("--layers", m.layers, "transformer blocks")->capture_default_str();
  cmd->add_option("--dim", m.dim, "channels")->capture_default_str();
  cmd->add_option("--heads", m.heads, "attention heads (must divide --dim)")
      ->capture_default_str();
  cmd->add_option("--ctx", m.ctx, "context length in bytes")->capture_default_str();
}

// Flags that fix how many workers there are and how they are laid out.
bool layout_given(const CLI::App& cmd) {
  for (const char* flag : {"--workers", "--dp", "--tp", "--pp", "--servers"})
    if (const CLI::Option* o = cmd.get_option_no_throw(flag); o && o->count() > 0) return true;
  return false;
}

// --init-from: the model is the weights' (opened and checked once here, before any
// worker starts). Model flags given explicitly must agree; --ctx may be shorter.
void adopt_init_config(const CLI::App& cmd, TrainOptions& opt) {
  const WeightSource src = WeightSource::open(opt.init_from);
  GPTConfig m = src.config();
  if (cmd.get_option("--ctx")->count() > 0) m.ctx = opt.model.ctx;
  struct Flag { const char* name; int given, weights; };
  for (const Flag& f : {Flag{"--layers", opt.model.layers, m.layers}, Flag{"--dim", opt.model.dim, m.dim},
                        Flag{"--heads", opt.model.heads, m.heads}})
    if (cmd.get_option(f.name)->count() > 0 && f.given != f.weights)
      throw UsageError(std::string(f.name) + " " + std::to_string(f.given) + " differs from the " +
                       std::to_string(f.weights) + " of the weights in '" + src.where().string() +
                       "'; leave it out with --init-from");
  const std::string why = weights_mismatch(src.config(), m);
  if (!why.empty()) throw UsageError("--init-from '" + src.where().string() + "': " + why);
  if (m.vocab < 256)  // the byte tokenizer's ids must be rows of wte
    throw UsageError("--init-from '" + src.where().string() + "': its vocabulary of " +
                     std::to_string(m.vocab) + " is smaller than the byte tokenizer's 256");
  opt.model = m;
  if (opt.progress)
    std::fprintf(stderr, "init: weights from '%s' (%s, %s), a new run: fresh optimizer, step 0\n",
                 src.where().string().c_str(), weight_format_name(src.format()),
                 safetensors::dtype_name(src.dtype()));
}

// No layout flags at all: one in-process data-parallel worker per core (at most one
// per sequence of the batch), one BLAS thread each unless --blas-threads says more.
void default_layout(TrainOptions& opt) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  opt.workers = std::clamp(opt.batch, 1, cores);
  if (!opt.progress) return;
  std::fprintf(stderr,
               "layout: %d data-parallel worker%s, one per core (%d cores; no --workers, "
               "--dp, --tp, --pp or --servers), %d BLAS thread%s each\n",
               opt.workers, opt.workers == 1 ? "" : "s", cores, opt.effective_blas_threads(),
               opt.effective_blas_threads() == 1 ? "" : "s");
}

// The flags whose values are names, as typed; parsed into TrainOptions' enums once.
struct NamedFlags {
  std::string schedule = "1f1b", backend = "threads", sync, ps_mode = "sync";
  void parse_into(TrainOptions& opt) const {
    opt.schedule = parse_schedule_flag(schedule);
    opt.backend = parse_backend_flag(backend);
    opt.sync = parse_sync_flag(sync);
    opt.ps_mode = parse_ps_mode(ps_mode);
  }
};

void add_train(Context& ctx) {
  auto opt = std::make_shared<TrainOptions>();
  auto names = std::make_shared<NamedFlags>();
  opt->model = GPTConfig{256, 128, 4, 128, 4};
  opt->steps = 500;
  opt->batch = 16;
  opt->lr = 2e-3f;
  opt->eval_every = 100;
  opt->checkpoint_dir = "";
  auto* cmd = ctx.root.add_subcommand("train", "train a GPT on text files");
  add_gemm_option(cmd);
  add_precision_option(cmd);
  cmd->add_option("--data", opt->data, "text files (default: the fortunes corpus)")
      ->check(CLI::ExistingPath);
  add_model_flags(cmd, opt->model);
  cmd->add_option("--batch", opt->batch, "global batch: sequences per step")
      ->capture_default_str();
  cmd->add_option("--micro-batch", opt->micro_batch,
                  "sequences per forward/backward pass on a worker (0: the whole share)")
      ->capture_default_str();
  cmd->add_option("--steps", opt->steps, "the whole run's length (fixes the LR schedule)")
      ->capture_default_str();
  cmd->add_option("--lr", opt->lr, "peak learning rate")->capture_default_str();
  cmd->add_option("--warmup", opt->warmup, "warm-up steps (default: steps/20)");
  cmd->add_option("--weight-decay", opt->adamw.weight_decay, "AdamW weight decay on matrices")
      ->capture_default_str();
  cmd->add_option("--clip", opt->adamw.clip_norm, "gradient-norm clipping (0: off)")
      ->capture_default_str();
  cmd->add_option("--seed", opt->seed, "seed of initialisation and batches")
      ->capture_default_str();
  cmd->add_option("--eval-every", opt->eval_every, "validation loss every N steps (0: only at the end)")
      ->capture_default_str();
  cmd->add_option("--eval-windows", opt->eval_windows,
                  "validation windows of ctx+1 bytes per evaluation")
      ->capture_default_str();
  cmd->add_option("--checkpoint-dir", opt->checkpoint_dir, "where checkpoints go");
  cmd->add_option("--checkpoint-every", opt->checkpoint_every,
                  "commit a checkpoint every N steps (0: only at the end)")
      ->capture_default_str();
  cmd->add_option("--keep-checkpoints", opt->keep_checkpoints, "checkpoints kept")
      ->capture_default_str();
  cmd->add_flag("--resume", opt->resume, "continue from the latest checkpoint");
  cmd->add_option("--init-from", opt->init_from,
                  "start a new run from these weights: a plait checkpoint or run directory, "
                  "or a Hugging Face / nanoGPT safetensors file or directory (docs/FINETUNE.md)");
  cmd->add_option("--stop-after", opt->stop_after,
                  "end this invocation after N steps, with a checkpoint");
  cmd->add_option("--log", opt->log_path, "metrics as JSON lines");
  cmd->add_option("--trace", opt->trace_path, "timeline as Chrome trace JSON (Perfetto)");
  auto* workers = cmd->add_option("--workers", opt->workers,
                                  "in-process workers (default: dp x tp x pp with a layout, "
                                  "else one per core, data parallel)");
  // Model parallelism (docs/MODEL_PARALLEL.md).
  cmd->add_option("--dp", opt->dp, "data-parallel replicas (default: workers / (tp x pp))");
  cmd->add_option("--tp", opt->tp, "tensor-parallel ranks per replica (Megatron split)")
      ->capture_default_str();
  cmd->add_option("--pp", opt->pp, "pipeline stages per replica")->capture_default_str();
  cmd->add_option("--stages", opt->stages, "blocks per pipeline stage, e.g. 3,3,2 "
                  "(default: balanced)")
      ->delimiter(',');
  cmd->add_option("--micro-batches", opt->micro_batches,
                  "pipeline micro-batches per replica's share of the batch (default: pp)");
  cmd->add_option("--schedule", names->schedule, "pipeline schedule: gpipe or 1f1b")
      ->capture_default_str();
  cmd->add_option("--backend", names->backend,
                  "threads (--workers in this process) or mpi (one rank per mpirun process)")
      ->capture_default_str();
  cmd->add_option("--sync", names->sync,
                  "gradient allreduce: ring, direct, hierarchical, ps, halving-doubling, mpi "
                  "(default: chosen by world size, the log says why)");
  cmd->add_option("--bucket-mb", opt->bucket_mb, "gradient bucket size in MiB")
      ->capture_default_str();
  cmd->add_flag("!--no-overlap", opt->overlap,
                "reduce gradients only after the whole backward pass");
  cmd->add_option("--ranks-per-node", opt->ranks_per_node,
                  "emulate nodes of N consecutive workers (0: one node)")
      ->capture_default_str();
  cmd->add_option("--blas-threads", opt->blas_threads, "BLAS threads per worker (0: cores/workers)")
      ->capture_default_str();
  cmd->add_option("--speeds", opt->speeds,
                  "relative worker speeds, one per worker: shares of the batch proportional "
                  "to them (default: equal)")
      ->delimiter(',');
  cmd->add_option("--intra-link", opt->intra_link,
                  "emulated link inside a node, LATENCY:BANDWIDTH (e.g. 1us:20GB/s)");
  cmd->add_option("--inter-link", opt->inter_link,
                  "emulated link between nodes, LATENCY:BANDWIDTH (e.g. 20us:1GB/s)");
  // Parameter-server architecture (docs/DATA_PARALLEL.md, "Parameter server").
  cmd->add_option("--servers", opt->servers,
                  "dedicated parameter-server ranks (in addition to --workers)");
  cmd->add_option("--ps-mode", names->ps_mode, "parameter-server updates: sync, async or stale")
      ->capture_default_str();
  cmd->add_option("--staleness", opt->staleness,
                  "--ps-mode stale: iterations a worker may run ahead of the slowest");
  cmd->add_option("--backup-workers", opt->backup_workers,
                  "--ps-mode sync: a step takes the first N-B workers' pushes, drops the rest");
  cmd->add_flag("!--no-progress", opt->progress, "no progress line");
  cmd->callback([&ctx, opt, names, workers, cmd] {
    names->parse_into(*opt);
    // With a layout and no --workers, the mesh fixes the worker count.
    if (workers->count() == 0 && opt->model_parallel())
      opt->workers = std::max(1, opt->dp) * opt->tp * opt->pp;
    if (!opt->init_from.empty()) adopt_init_config(*cmd, *opt);
    if (opt->backend != comm::Backend::mpi && !layout_given(*cmd)) default_layout(*opt);
    train(*opt);
    ctx.rc = 0;
  });
}

Registrar reg("train", add_train);

}  // namespace
}  // namespace plait::cli
