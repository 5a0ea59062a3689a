// Everything a training run is told. The CLI fills it from flags; tests fill it
// directly. validate() rejects impossible combinations with a one-line UsageError
// that names the flag.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "balance/slowdown.h"
#include "comm/group.h"
#include "layout/schedule.h"
#include "layout/stage_partition.h"
#include "layout/sync.h"
#include "data/dataset.h"
#include "model/adamw.h"
#include "model/config.h"
#include "model/recompute.h"

namespace plait {

// Parameter-server updates (docs/DATA_PARALLEL.md, "Parameter server").
enum class PsMode { sync, async, stale };
const char* to_string(PsMode m);  // "sync" | "async" | "stale"

// How data-parallel shares follow measured speeds (docs/BALANCE.md): automatic
// re-splits every --balance-every steps; fixed (the default) keeps the start split
// (equal, or --speeds) and says when automatic would re-split; off is the equal split.
// All three measure and log every rank's speed.
enum class BalanceMode { automatic, fixed, off };
const char* to_string(BalanceMode m);  // "auto" | "static" | "off"

// What a step whose loss or gradient norm is not finite does (--on-nonfinite,
// docs/FAULT_TOLERANCE.md "Numerical faults"): stop the run (exit 1), skip the step's
// update, or roll back to the last committed checkpoint with the data order shifted.
enum class NonFinite { stop, skip, rollback };
const char* to_string(NonFinite m);  // "stop" | "skip" | "rollback"
NonFinite parse_nonfinite_flag(const std::string& text);  // --on-nonfinite

// The flags' spellings, parsed once where the options are filled (the CLI); each
// throws a one-line UsageError naming its flag.
PipeSchedule parse_schedule_flag(const std::string& text);          // --schedule
std::optional<SyncAlgorithm> parse_sync_flag(const std::string& text);  // --sync ("": by size)
comm::Backend parse_backend_flag(const std::string& text);          // --backend
PsMode parse_ps_mode(const std::string& text);                      // --ps-mode
BalanceMode parse_balance_flag(const std::string& text);            // --balance
int parse_steal_flag(const std::string& text);  // --steal on|off|N: the smallest chunk, 0 off

struct TrainOptions {
  // model and data
  GPTConfig model;
  std::vector<std::string> data;  // text files or a token directory; empty = the default corpus
  std::vector<std::string> val_data;  // validation text files or directory (never trained on)
  std::string tokenizer;          // spec (data/tokenizer.h); "": resolve_tokenizer() decides
  std::string dtype = "uint16";   // a nanoGPT directory's tokens
  int batch = 16;                 // global sequences per step
  int micro_batch = 0;            // sequences per forward/backward on a worker (0 = all)
  int64_t steps = 200;            // the whole run's length (fixes the LR schedule)
  float lr = 1e-3f;
  int warmup = -1;                // -1: steps/20, at least 1
  uint64_t seed = 1337;
  AdamWConfig adamw;

  // evaluation and output
  int eval_every = 50;            // validation loss every N steps (0 = never)
  int eval_windows = 64;          // validation windows of ctx+1 bytes per evaluation
  std::string log_path;           // metrics as JSON lines
  std::string trace_path;         // Chrome trace JSON
  bool progress = true;           // live progress line on stderr

  // checkpoints
  std::string checkpoint_dir;
  int checkpoint_every = 0;       // 0 = only at the end (and at --stop-after)
  int keep_checkpoints = 3;
  // Write single-writer checkpoints (one worker, data parallelism, the parameter
  // server) on a background thread after a snapshot (fault/checkpoint_writer.h);
  // false: on the training thread. Mesh checkpoints are collective: always inline.
  bool checkpoint_background = true;
  bool resume = false;
  // Initial weights of a NEW run (fault/weights.h: a plait checkpoint of any layout, a
  // Hugging Face or nanoGPT safetensors file): fresh optimizer, this run's own data,
  // steps and schedule; `model` must match them (ctx may be shorter). "": from `seed`.
  // A run that resumes takes its weights from its own checkpoint instead.
  std::string init_from;
  int64_t stop_after = 0;         // end this invocation after N steps (0 = run to the end)

  // layout
  int workers = 1;                // in-process worker threads (threads backend)
  comm::Backend backend = comm::Backend::threads;  // mpi: one rank per mpirun process
  int blas_threads = 0;           // BLAS threads per worker (0: cores / workers)
  // data parallelism (docs/DATA_PARALLEL.md); ignored with one worker
  std::optional<SyncAlgorithm> sync;  // allreduce algorithm; none: chosen by size
  double bucket_mb = 4.0;         // gradient bucket size in MiB
  bool overlap = true;            // reduce buckets during the backward pass
  int ranks_per_node = 0;         // emulated nodes of N consecutive workers (0: one node)
  std::vector<double> speeds;     // relative worker speeds: proportional shares ("": equal)
  std::optional<BalanceMode> balance;  // none: fixed (bit-reproducible runs)
  int balance_every = 5;          // automatic: consider a new split every K steps
  double balance_threshold = 0.1;   // automatic: minimum predicted gain of a new split
  std::optional<int> steal;       // --steal: work stealing's smallest chunk, 0 off (none: on)
  std::vector<balance::Slowdown> slowdowns;  // emulated slow ranks (--slowdown)
  std::string intra_link;         // emulated link inside a node, "LAT:BW" ("": real speed)
  std::string inter_link;         // emulated link between nodes, "LAT:BW" ("": real speed)
  // model parallelism (docs/MODEL_PARALLEL.md): a dp x tp x pp mesh of the workers
  int dp = 0;                     // data-parallel replicas (0: workers / (tp * pp))
  int tp = 1;                     // tensor-parallel ranks per replica (Megatron split)
  int pp = 1;                     // pipeline stages per replica
  std::vector<int> stages;        // blocks per stage, e.g. 3,3,2 ("": balanced)
  bool stages_auto = false;       // --stages auto: the CLI sets `stages` by cost (plan/auto_stages.h)
  bool stages_profile = false;    // --stages profile: ... from a start-up profile (cli/stage_profile.h)
  double stage_memory_gib = 0;    // --stage-memory: auto's per-stage limit (0: available / workers)
  double repartition_threshold = 0;  // --repartition-threshold: restart with new stages (0: off)
  int repartition_after = 5;      // --repartition-after K: ... when over it K steps in a row
  StageCosts stage_costs;         // the CLI's: the head's work and each stage's memory (cli/stage_choice.h)
  int micro_batches = 0;          // pipeline micro-batches per replica's share (0: pp)
  PipeSchedule schedule = PipeSchedule::one_f_one_b;
  // parameter-server architecture (docs/DATA_PARALLEL.md, "Parameter server")
  int servers = 0;                // dedicated server ranks (0: ps as a collective only)
  PsMode ps_mode = PsMode::sync;
  int staleness = 0;              // bounded staleness S (ps_mode stale)
  int backup_workers = 0;         // synchronous steps take the first N-B pushes (--servers)
                                  // or gradients (data parallelism: backup_sync.h)
  // memory (docs/MEMORY.md)
  int zero = 0;                   // ZeRO stage: 0 none, 1 sharded AdamW moments (dp only)
  Recompute recompute = Recompute::none;  // activation recomputation (model/recompute.h)

  // failures (docs/FAULT_TOLERANCE.md)
  double timeout_s = 600;         // every blocking wait of a collective, seconds
  double heartbeat_timeout_s = 0; // no progress for this long ends the run (0: auto)
  int max_restarts = 0;           // train under a supervisor that restarts it (cli/)
  int min_workers = 0;            // the supervisor may shrink the job down to this (0: never)
  int memory_snapshot_every = 0;  // a snapshot of the state in shared memory every K steps
  std::string memory_snapshot_dir;  // the supervisor's directory for it (fault/memory_snapshot.h)
  NonFinite on_nonfinite = NonFinite::stop;
  int max_nonfinite = 3;          // skip / rollback: give up (exit 1) after this many
  int metrics_port = -1;          // /metrics and /healthz on this port (0: any; -1: off)
  std::string metrics_host = "127.0.0.1";  // the address they listen on

  int effective_warmup() const;
  // The learning rate per step: warm-up to lr, cosine decay to lr/10 at `steps`.
  LrSchedule lr_schedule() const;
  data::DataOptions data_options() const;
  // The mesh's data-parallel size: dp, or workers / (tp * pp).
  int effective_dp() const;
  bool model_parallel() const { return tp > 1 || pp > 1; }
  BalanceMode balance_mode() const {
    return balance.value_or(BalanceMode::fixed);
  }
  // Work stealing within a step (--balance auto, --steal): its smallest chunk, 0 when off.
  int steal_chunk() const {
    return balance_mode() == BalanceMode::automatic ? steal.value_or(1) : 0;
  }
  int effective_blas_threads() const;
  void validate() const;
  void validate_layout() const;  // the dp x tp x pp part of validate()
  void validate_ps() const;      // the parameter-server part of validate()
  void validate_backup() const;  // --backup-workers without --servers
  void validate_balance() const; // --balance, --slowdown (needs the worker count)
  // Every --slowdown names one of `ranks` worker ranks (MPI: checked at start).
  void check_slowdowns(int ranks) const;
  void validate_zero() const;    // the --zero part of validate()
  // The options that must match when a run resumes (model, data, schedule, seed).
  nlohmann::json resume_fingerprint() const;
};

// Fixes the run's tokenizer and the model's vocabulary from it (train() calls it):
// --tokenizer if given; else a prepared dataset's own; else, with --resume, the
// latest checkpoint's; else, with --init-from, the weights' (checkpoint_tokenizer.h);
// else bytes. Sets opt.tokenizer to a spec and opt.model.vocab.
void resolve_tokenizer(TrainOptions& opt);

}  // namespace plait
