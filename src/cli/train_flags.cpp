#include "cli/train_flags.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>

#include "cli/machine_checks.h"
#include "cli/machine_info.h"
#include "cli/model_spec_of.h"
#include "cli/run_guard.h"
#include "cli/stage_profile.h"
#include "cli/stage_choice.h"
#include "fault/weights.h"
#include "layout/schedule.h"
#include "layout/sync.h"
#include "util/error.h"

namespace plait::cli {
namespace {

// A flag whose value is a name, parsed into TrainOptions' enum as it is read (a bad
// name is a UsageError naming the flag: exit 2, one line).
void named(CLI::App* cmd, const char* flag, const std::string& help, const char* default_text,
           std::function<void(const std::string&)> parse) {
  auto* o = cmd->add_option_function<std::string>(flag, std::move(parse), help);
  if (*default_text != '\0') o->default_str(default_text);
}

void add_model_flags(CLI::App* cmd, TrainOptions& opt) {
  GPTConfig& m = opt.model;
  cmd->add_option("--data", opt.data,
                  "text files, or a directory from `plait prepare` / nanoGPT's train.bin "
                  "(default: the fortunes corpus)")
      ->check(CLI::ExistingPath);
  cmd->add_option("--val-data", opt.val_data,
                  "validation text files or directory, never trained on (default: the "
                  "prepared validation split, or the last 10% of the text)")
      ->check(CLI::ExistingPath);
  cmd->add_option("--tokenizer", opt.tokenizer,
                  "bytes, gpt2:DIR (encoder.json + vocab.bpe) or spm:FILE (default: the "
                  "prepared dataset's, the checkpoint's with --resume, else bytes)");
  cmd->add_option("--dtype", opt.dtype, "token type of a nanoGPT directory: uint16 or uint32")
      ->capture_default_str();
  cmd->add_option("--layers", m.layers, "transformer blocks")->capture_default_str();
  cmd->add_option("--dim", m.dim, "channels")->capture_default_str();
  cmd->add_option("--heads", m.heads, "attention heads (must divide --dim)")
      ->capture_default_str();
  cmd->add_option("--ctx", m.ctx, "context length in tokens")->capture_default_str();
}

void add_optimizer_flags(CLI::App* cmd, TrainOptions& opt) {
  cmd->add_option("--batch", opt.batch, "global batch: sequences per step")
      ->capture_default_str();
  cmd->add_option("--micro-batch", opt.micro_batch,
                  "sequences per forward/backward pass on a worker (0: the whole share)")
      ->capture_default_str();
  cmd->add_option("--steps", opt.steps, "the whole run's length (fixes the LR schedule)")
      ->capture_default_str();
  cmd->add_option("--lr", opt.lr, "peak learning rate")->capture_default_str();
  cmd->add_option("--warmup", opt.warmup, "warm-up steps (default: steps/20)");
  cmd->add_option("--weight-decay", opt.adamw.weight_decay, "AdamW weight decay on matrices")
      ->capture_default_str();
  cmd->add_option("--clip", opt.adamw.clip_norm, "gradient-norm clipping (0: off)")
      ->capture_default_str();
  cmd->add_option("--seed", opt.seed, "seed of initialisation and batches")
      ->capture_default_str();
}

void add_output_flags(CLI::App* cmd, TrainOptions& opt) {
  cmd->add_option("--eval-every", opt.eval_every,
                  "validation loss every N steps (0: only at the end)")
      ->capture_default_str();
  cmd->add_option("--eval-windows", opt.eval_windows,
                  "validation windows of ctx+1 bytes per evaluation")
      ->capture_default_str();
  cmd->add_option("--checkpoint-dir", opt.checkpoint_dir,
                  "where checkpoints go (without it the trained model is not kept)");
  cmd->add_option("--checkpoint-every", opt.checkpoint_every,
                  "commit a checkpoint every N steps (0: only at the end)")
      ->capture_default_str();
  cmd->add_option("--keep-checkpoints", opt.keep_checkpoints, "checkpoints kept")
      ->capture_default_str();
  named(cmd, "--checkpoint-writer",
        "background (snapshot, then write on a thread of its own while training goes on) "
        "or inline (write on the training thread); tp/pp: every rank's writer thread",
        "background", [&opt](const std::string& s) {
          if (s != "background" && s != "inline")
            throw UsageError("--checkpoint-writer: '" + s + "' is not background or inline");
          opt.checkpoint_background = s == "background";
        });
  // Read back by cli/resume.h (resume_mode), which sets opt.resume.
  cmd->add_option("--resume", "continue from the latest checkpoint in --checkpoint-dir, its "
                  "model, batch, steps and lr with it; --resume auto: only if there is one")
      ->expected(0, 1);
  cmd->add_option("--init-from", opt.init_from,
                  "start a new run from these weights: a plait checkpoint or run directory, "
                  "or a Hugging Face / nanoGPT safetensors file or directory (docs/FINETUNE.md)");
  cmd->add_option("--stop-after", opt.stop_after,
                  "end this invocation after N steps, with a checkpoint");
  cmd->add_option("--log", opt.log_path, "metrics as JSON lines");
  cmd->add_option("--trace", opt.trace_path, "timeline as Chrome trace JSON (Perfetto)");
  cmd->add_flag("!--no-progress", opt.progress, "no progress line");
}

// --stages: "auto", or blocks per stage as whole numbers.
void parse_stages(const std::vector<std::string>& v, TrainOptions& opt) {
  opt.stages.clear();
  opt.stages_profile = v.size() == 1 && v[0] == "profile";
  opt.stages_auto = v.size() == 1 && (v[0] == "auto" || opt.stages_profile);
  if (opt.stages_auto) return;
  for (const std::string& s : v) {
    if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos)
      throw UsageError("--stages: '" + s + "' is not a whole number (blocks per stage, e.g. "
                       "3,3,2, or auto, or profile)");
    opt.stages.push_back(std::stoi(s));
  }
}

// Workers, the dp x tp x pp mesh (docs/MODEL_PARALLEL.md) and the backend.
void add_layout_flags(CLI::App* cmd, TrainOptions& opt) {
  cmd->add_option("--workers", opt.workers,
                  "in-process workers (default: dp x tp x pp with a layout, else one per "
                  "core, data parallel; not with --backend mpi, where mpirun's -np counts)");
  cmd->add_option("--dp", opt.dp, "data-parallel replicas (default: workers / (tp x pp))");
  cmd->add_option("--tp", opt.tp, "tensor-parallel ranks per replica (Megatron split)")
      ->capture_default_str();
  cmd->add_option("--pp", opt.pp, "pipeline stages per replica")->capture_default_str();
  cmd->add_option_function<std::vector<std::string>>(
         "--stages", [&opt](const std::vector<std::string>& v) { parse_stages(v, opt); },
         "blocks per pipeline stage, e.g. 3,3,2; auto: by cost (the cost model's LM head, "
         "the stages' --slowdown); profile: the same with a block and the head measured "
         "at start-up (default: balanced by block count)")
      ->delimiter(',');
  cmd->add_option("--stage-memory", opt.stage_memory_gib,
                  "GiB each pipeline stage may use: --stages auto chooses the fastest split "
                  "within it (default: the available memory / the workers; MPI: no limit)");
  cmd->add_option("--repartition-threshold", opt.repartition_threshold,
                  "with --pp: when the measured busiest stage is this much slower than the "
                  "measured costs' best split for --repartition-after steps, checkpoint and "
                  "end with exit code 3 and the new --stages (restarted by --max-restarts); "
                  "0: off (docs/BALANCE.md)");
  cmd->add_option("--repartition-after", opt.repartition_after,
                  "steps in a row over --repartition-threshold before a repartition")
      ->capture_default_str();
  cmd->add_option("--micro-batches", opt.micro_batches,
                  "pipeline micro-batches per replica's share of the batch (default: pp)");
  named(cmd, "--schedule", "pipeline schedule: " + schedule_names(), "1f1b",
        [&opt](const std::string& s) { opt.schedule = parse_schedule_flag(s); });
  named(cmd, "--backend",
        "threads (--workers in this process) or mpi (one rank per mpirun process)", "threads",
        [&opt](const std::string& s) { opt.backend = parse_backend_flag(s); });
  cmd->add_option("--blas-threads", opt.blas_threads,
                  "BLAS threads per worker (0: cores/workers)")
      ->capture_default_str();
  add_oversubscribe_flag(cmd);
  add_allow_nonfinite_flag(cmd);
  add_overwrite_flag(cmd);
}

// Data-parallel gradient sync, emulated nodes and links, parameter servers
// (docs/DATA_PARALLEL.md).
void add_sync_flags(CLI::App* cmd, TrainOptions& opt) {
  named(cmd, "--sync",
        "gradient allreduce: " + algorithm_names() +
            " (default: chosen by world size, the log says why)",
        "", [&opt](const std::string& s) { opt.sync = parse_sync_flag(s); });
  cmd->add_option("--bucket-mb", opt.bucket_mb, "gradient bucket size in MiB")
      ->capture_default_str();
  cmd->add_flag("!--no-overlap", opt.overlap,
                "reduce gradients only after the whole backward pass");
  cmd->add_option("--ranks-per-node", opt.ranks_per_node,
                  "emulate nodes of N consecutive workers (0: one node; under mpi: the "
                  "machines mpirun started ranks on)")
      ->capture_default_str();
  cmd->add_option("--speeds", opt.speeds,
                  "relative worker speeds, one per worker: shares of the batch proportional "
                  "to them (default: equal)")
      ->delimiter(',');
  named(cmd, "--balance",
        "data-parallel shares: auto (re-split by measured speed), static (equal or "
        "--speeds; says when auto would re-split), off (equal) (default: static)",
        "", [&opt](const std::string& s) { opt.balance = parse_balance_flag(s); });
  named(cmd, "--steal",
        "--balance auto: ranks claim a quarter of every share chunk by chunk as they "
        "finish (work stealing within a step): on, off, or the smallest chunk in sequences",
        "on", [&opt](const std::string& s) { opt.steal = parse_steal_flag(s); });
  cmd->add_option("--balance-every", opt.balance_every,
                  "--balance auto: consider a new split every K steps")
      ->capture_default_str();
  cmd->add_option("--balance-threshold", opt.balance_threshold,
                  "--balance auto: re-split only when the predicted step is this fraction "
                  "faster")
      ->capture_default_str();
  cmd->add_option_function<std::vector<std::string>>(
      "--slowdown",
      [&opt](const std::vector<std::string>& v) {
        for (const auto& s : v) opt.slowdowns.push_back(balance::parse_slowdown(s));
      },
      "emulate a slow rank: RANK:FACTOR[@STEP] makes its compute FACTOR times slower from "
      "STEP on (repeatable)");
  cmd->add_option("--intra-link", opt.intra_link,
                  "emulated link inside a node, LATENCY:BANDWIDTH (e.g. 1us:20GB/s)");
  cmd->add_option("--inter-link", opt.inter_link,
                  "emulated link between nodes, LATENCY:BANDWIDTH (e.g. 20us:1GB/s)");
  cmd->add_option("--servers", opt.servers,
                  "dedicated parameter-server ranks (in addition to --workers)");
  named(cmd, "--ps-mode", "parameter-server updates: sync, async or stale", "sync",
        [&opt](const std::string& s) { opt.ps_mode = parse_ps_mode(s); });
  cmd->add_option("--staleness", opt.staleness,
                  "--ps-mode stale: iterations a worker may run ahead of the slowest");
  cmd->add_option("--backup-workers", opt.backup_workers,
                  "a step takes the first N-B workers' gradients (pushes with --servers) and "
                  "drops the rest; a failed worker leaves (changes the math; off by default)");
  named(cmd, "--recompute",
        "activation recomputation: none (keep every activation), selective (recompute the "
        "attention probabilities) or block (keep each block's input, recompute the block); "
        "bit-identical results, docs/MEMORY.md",
        "none", [&opt](const std::string& s) { opt.recompute = parse_recompute(s); });
  cmd->add_option("--zero", opt.zero,
                  "ZeRO stage for data parallelism: 0 (none), 1 (each worker keeps the AdamW "
                  "moments of its shard only), 2 (and only its shard's reduced gradients) or 3 "
                  "(and only its shard's parameters, gathered block by block); docs/MEMORY.md")
      ->capture_default_str();
}

// Failure detection (docs/FAULT_TOLERANCE.md).
void add_fault_flags(CLI::App* cmd, TrainOptions& opt) {
  cmd->add_option("--timeout", opt.timeout_s,
                  "seconds a rank waits in a collective before the run fails naming the "
                  "missing rank")
      ->capture_default_str();
  cmd->add_option("--heartbeat-timeout", opt.heartbeat_timeout_s,
                  "seconds without progress on any rank before the watchdog reports it and "
                  "ends the run (0: auto, 10 s + 3x the slowest phase so far)")
      ->capture_default_str();
  named(cmd, "--on-nonfinite",
        "a step whose loss or gradient norm is NaN or infinite: stop (exit 1, naming the "
        "first non-finite tensor), skip (drop its update), rollback (reload the last "
        "checkpoint, data order shifted past the failed steps)",
        "stop", [&opt](const std::string& s) { opt.on_nonfinite = parse_nonfinite_flag(s); });
  cmd->add_option("--max-nonfinite", opt.max_nonfinite,
                  "--on-nonfinite skip|rollback: give up (exit 1) after this many")
      ->capture_default_str();
  cmd->add_option("--metrics-port", opt.metrics_port,
                  "serve Prometheus metrics on GET /metrics and health on GET /healthz at this "
                  "port (rank 0; under --max-restarts or plait launch the supervisor serves "
                  "them across restarts; 0: any free port, printed)");
  cmd->add_option("--metrics-host", opt.metrics_host,
                  "the address --metrics-port listens on (0.0.0.0: every interface)")
      ->capture_default_str();
  cmd->add_option("--max-restarts", opt.max_restarts,
                  "run the training as a child process and restart it from the newest "
                  "checkpoint when it dies or hangs, up to K times (threads backend; MPI: "
                  "plait launch)")
      ->capture_default_str();
  cmd->add_option("--min-workers", opt.min_workers,
                  "with --max-restarts: when the run fails twice in a row with no new "
                  "checkpoint, restart it on fewer workers (one replica less), down to M; "
                  "the global batch stays the same (0: never shrink)");
  cmd->add_option("--memory-snapshot-every", opt.memory_snapshot_every,
                  "with --max-restarts (MPI: plait launch): every K steps a snapshot of the "
                  "state in shared memory outside the training process; a restart resumes "
                  "from it when it is newer than the disk's checkpoint (0: none)");
}

}  // namespace

TrainOptions train_defaults() {
  TrainOptions opt;
  opt.model = GPTConfig{256, 128, 4, 128, 4};
  opt.steps = 500;
  opt.batch = 16;
  opt.lr = 2e-3f;
  opt.eval_every = 100;
  return opt;
}

void add_train_flags(CLI::App* cmd, TrainOptions& opt) {
  add_gemm_option(cmd);
  add_precision_option(cmd);
  add_model_flags(cmd, opt);
  add_optimizer_flags(cmd, opt);
  add_output_flags(cmd, opt);
  add_layout_flags(cmd, opt);
  add_sync_flags(cmd, opt);
  add_fault_flags(cmd, opt);
}

void adopt_init_config(const CLI::App& cmd, TrainOptions& opt) {
  if (opt.init_from.empty() || opt.resume) return;
  const WeightSource src = WeightSource::open(opt.init_from);
  GPTConfig m = src.config();
  if (given(cmd, "--ctx")) m.ctx = opt.model.ctx;
  struct Flag { const char* name; int given, weights; };
  for (const Flag& f : {Flag{"--layers", opt.model.layers, m.layers},
                        Flag{"--dim", opt.model.dim, m.dim}, Flag{"--heads", opt.model.heads, m.heads}})
    if (given(cmd, f.name) && f.given != f.weights)
      throw UsageError(std::string(f.name) + " " + std::to_string(f.given) + " differs from the " +
                       std::to_string(f.weights) + " of the weights in '" + src.where().string() +
                       "'; leave it out with --init-from");
  const std::string why = weights_mismatch(src.config(), m);
  if (!why.empty()) throw UsageError("--init-from '" + src.where().string() + "': " + why);
  opt.model = m;
  if (opt.progress && first_process())
    std::fprintf(stderr, "init: weights from '%s' (%s, %s), a new run: fresh optimizer, step 0\n",
                 src.where().string().c_str(), weight_format_name(src.format()),
                 safetensors::dtype_name(src.dtype()));
}

void resolve_auto_stages(TrainOptions& opt) {
  if (opt.repartition_threshold > 0 && opt.pp > 1) opt.stage_costs = repartition_costs(opt);
  if (!opt.stages_auto || opt.pp <= 1) return;
  const StageChoice ch = choose_stages(opt);  // cli/stage_choice.h: cost within memory
  opt.stages = ch.part.sizes;
  if (opt.progress && first_process()) std::fprintf(stderr, "%s\n", ch.line.c_str());
}

bool first_process() {
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID"})
    if (const char* v = std::getenv(var); v != nullptr && *v != '\0') return std::string(v) == "0";
  return true;
}

bool given(const CLI::App& cmd, const std::string& flag) {
  const CLI::Option* o = cmd.get_option_no_throw(flag);
  return o != nullptr && o->count() > 0;
}

std::string resolve_layout(const CLI::App& cmd, TrainOptions& opt) {
  if (opt.backend == comm::Backend::mpi && given(cmd, "--workers"))
    throw UsageError("--workers does not apply with --backend mpi: the ranks are mpirun's "
                     "processes (mpirun -np N); drop --workers");
  if (!given(cmd, "--workers") && opt.model_parallel())
    opt.workers = std::max(1, opt.dp) * opt.tp * opt.pp;
  if (opt.backend == comm::Backend::mpi) return "";
  for (const char* flag : {"--workers", "--dp", "--tp", "--pp", "--servers"})
    if (given(cmd, flag)) return "";
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  opt.workers = std::clamp(opt.batch, 1, cores);
  const int blas = opt.effective_blas_threads();
  return "layout: " + std::to_string(opt.workers) + " data-parallel worker" +
         (opt.workers == 1 ? "" : "s") + ", one per core (" + std::to_string(cores) +
         " cores; no --workers, --dp, --tp, --pp or --servers), " + std::to_string(blas) +
         " BLAS thread" + (blas == 1 ? "" : "s") + " each";
}

}  // namespace plait::cli
