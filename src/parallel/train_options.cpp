#include "parallel/train_options.h"

#include "data/prepared.h"
#include "parallel/checkpoint_tokenizer.h"

#include <algorithm>
#include <utility>
#include <thread>
#include <nlohmann/json.hpp>

#include "balance/split.h"
#include "comm/collectives.h"
#include "layout/stages.h"
#include "parallel/mesh_shares.h"
#include "util/error.h"
#include "util/link.h"

namespace plait {

const char* to_string(PsMode m) {
  switch (m) {
    case PsMode::sync:
      return "sync";
    case PsMode::async:
      return "async";
    case PsMode::stale:
      return "stale";
  }
  return "?";
}

const char* to_string(BalanceMode m) {
  switch (m) {
    case BalanceMode::automatic:
      return "auto";
    case BalanceMode::fixed:
      return "static";
    case BalanceMode::off:
      return "off";
  }
  return "?";
}

int parse_steal_flag(const std::string& text) {
  if (text == "on") return 1;
  if (text == "off") return 0;
  const bool digits = !text.empty() && text.size() <= 7 &&
                      text.find_first_not_of("0123456789") == std::string::npos;
  const int n = digits ? std::stoi(text) : 0;
  if (n < 1)
    throw UsageError("--steal must be on, off or the smallest stolen chunk in sequences (>= 1), "
                     "got '" + text + "'");
  return n;
}

namespace {

// `parse(text)`, its UsageError prefixed with the flag.
template <class Parse>
auto parse_flag(const char* flag, const std::string& text, Parse parse) {
  try {
    return parse(text);
  } catch (const UsageError& e) {
    throw UsageError(std::string(flag) + ": " + e.what());
  }
}

}  // namespace

PipeSchedule parse_schedule_flag(const std::string& text) {
  return parse_flag("--schedule", text, parse_schedule);
}

std::optional<SyncAlgorithm> parse_sync_flag(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return parse_flag("--sync", text, parse_algorithm);
}

comm::Backend parse_backend_flag(const std::string& text) {
  return parse_flag("--backend", text, comm::parse_backend);
}

PsMode parse_ps_mode(const std::string& text) {
  for (PsMode m : {PsMode::sync, PsMode::async, PsMode::stale})
    if (text == to_string(m)) return m;
  throw UsageError("--ps-mode must be sync, async or stale, got '" + text + "'");
}

BalanceMode parse_balance_flag(const std::string& text) {
  for (BalanceMode m : {BalanceMode::automatic, BalanceMode::fixed, BalanceMode::off})
    if (text == to_string(m)) return m;
  throw UsageError("--balance must be auto, static or off, got '" + text + "'");
}

namespace {
void require_positive(int64_t v, const char* flag) {
  if (v <= 0)
    throw UsageError(std::string(flag) + " must be positive, got " + std::to_string(v));
}
void require_non_negative(int64_t v, const char* flag) {
  if (v < 0)
    throw UsageError(std::string(flag) + " must not be negative, got " + std::to_string(v));
}
}  // namespace

int TrainOptions::effective_warmup() const {
  if (warmup >= 0) return warmup;
  return static_cast<int>(std::max<int64_t>(1, steps / 20));
}

LrSchedule TrainOptions::lr_schedule() const {
  return {lr, effective_warmup(), static_cast<int>(steps), 0.1f};
}

int TrainOptions::effective_blas_threads() const {
  if (blas_threads > 0) return blas_threads;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / workers);
}

int TrainOptions::effective_dp() const {
  if (dp > 0) return dp;
  return std::max(1, workers / std::max(1, tp * pp));
}

// The dp x tp x pp mesh (docs/MODEL_PARALLEL.md): sizes that multiply to the workers,
// a model that splits T ways, stages that cover the blocks, micro-batches that divide
// each replica's share of the batch.
void TrainOptions::validate_layout() const {
  require_non_negative(dp, "--dp");
  require_positive(tp, "--tp");
  require_positive(pp, "--pp");
  require_non_negative(micro_batches, "--micro-batches");
  const int D = effective_dp();
  // Under MPI the world is mpirun's -np, checked when the ranks start.
  if (backend != comm::Backend::mpi && D * tp * pp != workers)
    throw UsageError("layout: --dp " + std::to_string(D) + " x --tp " + std::to_string(tp) +
                     " x --pp " + std::to_string(pp) + " = " + std::to_string(D * tp * pp) +
                     " ranks, but there are " + std::to_string(workers) + " workers");
  check_model_split(model.layers, model.dim, model.heads, tp, pp, stages);
  if (batch % D != 0 && model_parallel())
    throw UsageError("layout: --batch " + std::to_string(batch) + " does not split evenly over " +
                     std::to_string(D) + " data-parallel replicas");
  const int M = micro_batches > 0 ? micro_batches : pp;
  if (pp > 1 && (batch / D) % M != 0)
    throw UsageError("--micro-batches " + std::to_string(M) + " does not divide each replica's " +
                     std::to_string(batch / D) + " sequences (--batch " + std::to_string(batch) +
                     " over " + std::to_string(D) + " replicas)");
  if (micro_batches > 0 && pp == 1)
    throw UsageError("--micro-batches needs a pipeline (--pp > 1); use --micro-batch for "
                     "gradient accumulation");
  // --speeds: one per rank, a replica as fast as its slowest rank (parallel/mesh_shares.h);
  // under MPI once the world is known (fit_workers).
  if (model_parallel() && !speeds.empty() && (backend != comm::Backend::mpi || D * tp * pp == workers))
    (void)mesh_shares(batch, speeds, MeshShape{D, tp, pp}, pp > 1 ? M : 1);
  if (repartition_threshold > 0 && pp == 1)
    throw UsageError("--repartition-threshold needs a pipeline (--pp > 1)");
  if (repartition_threshold > 0 && checkpoint_dir.empty())
    throw UsageError("--repartition-threshold needs --checkpoint-dir (the run restarts from "
                     "its checkpoint with the new --stages)");
}

// Parameter servers (docs/DATA_PARALLEL.md, "Parameter server"): a mode, a bound
// for stale, backup workers for sync only and fewer than the workers; no mesh, no
// allreduce to choose (--speeds: the workers' first shares, as in data parallelism).
void TrainOptions::validate_ps() const {
  require_non_negative(servers, "--servers");
  require_non_negative(staleness, "--staleness");
  require_non_negative(backup_workers, "--backup-workers");
  if (staleness > 0 && ps_mode != PsMode::stale)
    throw UsageError("--staleness " + std::to_string(staleness) + " needs --ps-mode stale");
  if (servers == 0) {
    if (ps_mode != PsMode::sync)
      throw UsageError(std::string("--ps-mode ") + to_string(ps_mode) +
                       " needs --servers K (dedicated parameter servers)");
    if (backup_workers > 0) validate_backup();
    return;
  }
  if (backup_workers > 0 && ps_mode != PsMode::sync)
    throw UsageError("--backup-workers needs --ps-mode sync (async and stale never wait for a "
                     "step's pushes)");
  // Under MPI the workers are mpirun's ranks minus the servers, checked at start.
  if (backend != comm::Backend::mpi && backup_workers >= workers)
    throw UsageError("--backup-workers " + std::to_string(backup_workers) +
                     " must be below --workers " + std::to_string(workers) +
                     " (a step needs at least one push)");
  if (model_parallel())
    throw UsageError("--servers cannot be combined with --tp/--pp (parameter servers serve "
                     "data-parallel workers)");
  if (sync)
    throw UsageError("--sync chooses an allreduce; with --servers the servers reduce (drop --sync)");
  if (ranks_per_node > 0 || !intra_link.empty() || !inter_link.empty())
    throw UsageError("--ranks-per-node/--intra-link/--inter-link are not supported with --servers");
}

// Backup workers of allreduce data parallelism (parallel/backup_sync.h): whole
// replicas only, gathered at rank 0 (no allreduce to choose), fewer than the workers
// (under MPI the world is known at start: launch.cpp checks it there).
void TrainOptions::validate_backup() const {
  const std::string flag = "--backup-workers " + std::to_string(backup_workers);
  if (model_parallel())
    throw UsageError(flag + " drops whole data-parallel workers' gradients: not with --tp/--pp");
  if (zero > 0)
    throw UsageError(flag + " cannot be combined with --zero (each rank owns a shard of the update)");
  if (sync)
    throw UsageError(flag + ": rank 0 gathers the first gradients to arrive; drop --sync");
  if (on_nonfinite == NonFinite::rollback)
    throw UsageError(flag + " cannot be combined with --on-nonfinite rollback; use stop or skip");
  if (backend != comm::Backend::mpi && backup_workers >= workers)
    throw UsageError(flag + " must be below --workers " + std::to_string(workers) +
                     " (a step needs at least one worker's gradients)");
}

// Balancing re-splits data parallelism, tp/pp replicas and parameter-server workers; a slowdown names a
// worker rank (under MPI the world is known at start: launch.cpp checks it there).
void TrainOptions::validate_balance() const {
  require_positive(balance_every, "--balance-every");
  if (!(balance_threshold >= 0 && balance_threshold < 1))
    throw UsageError("--balance-threshold must be in [0, 1), got " +
                     std::to_string(balance_threshold));
  if (balance == BalanceMode::off && !speeds.empty())
    throw UsageError("--balance off is the equal split; drop --speeds (or use --balance static)");
  if (steal.value_or(0) > 0 && balance_mode() != BalanceMode::automatic)
    throw UsageError("--steal balances within a step under --balance auto; add --balance auto "
                     "or drop --steal");
  if (steal.value_or(0) > batch)
    throw UsageError("--steal " + std::to_string(*steal) + ": the smallest chunk is larger than "
                     "--batch " + std::to_string(batch));
  if (balance == BalanceMode::automatic && backup_workers > 0)
    throw UsageError("--balance auto cannot be combined with --backup-workers (backup workers "
                     "drop the slow worker's push instead)");
  if (backend != comm::Backend::mpi)
    check_slowdowns(model_parallel() ? effective_dp() * tp * pp : workers);
}

void TrainOptions::check_slowdowns(int ranks) const {
  for (const balance::Slowdown& s : slowdowns)
    if (s.rank >= ranks)
      throw UsageError("--slowdown " + std::to_string(s.rank) + ":...: rank " +
                       std::to_string(s.rank) + " does not exist (" + std::to_string(ranks) +
                       (servers > 0 ? " workers; servers cannot be slowed)" : " ranks)"));
}

// ZeRO (docs/MEMORY.md): stages 1-3, on the data-parallel axis of any layout.
void TrainOptions::validate_zero() const {
  if (zero == 0) return;
  const std::string flag = "--zero " + std::to_string(zero);
  if (zero < 0 || zero > 3)
    throw UsageError("--zero must be 0, 1, 2 or 3, got " + std::to_string(zero));
  if (servers > 0)
    throw UsageError(flag + " cannot be combined with --servers (the servers already shard "
                     "the optimizer)");
  if (sync)
    throw UsageError(flag + " reduce-scatters the gradients; it cannot be combined with --sync");
  if (zero == 3) {
    // the passes gather parameters collectively: every dp rank runs as many
    const std::string why = "--zero 3 gathers each block's parameters from every "
                            "data-parallel rank, so every rank must run the same micro-batches; ";
    if (balance_mode() == BalanceMode::automatic || !speeds.empty())
      throw UsageError(why + "it cannot be combined with --balance auto or --speeds");
    const int64_t D = effective_dp(), lo = batch / D, hi = (batch + D - 1) / D;
    const int64_t mb = micro_batch > 0 ? micro_batch : hi;
    if (lo == 0 || (lo + mb - 1) / mb != (hi + mb - 1) / mb)
      throw UsageError(why + "--batch " + std::to_string(batch) + " over " + std::to_string(D) +
                       " replicas in micro-batches of " + std::to_string(mb) + " does not");
  }
}

const char* to_string(NonFinite m) {
  switch (m) {
    case NonFinite::stop: return "stop";
    case NonFinite::skip: return "skip";
    case NonFinite::rollback: return "rollback";
  }
  return "?";
}

NonFinite parse_nonfinite_flag(const std::string& text) {
  for (NonFinite m : {NonFinite::stop, NonFinite::skip, NonFinite::rollback})
    if (text == to_string(m)) return m;
  throw UsageError("--on-nonfinite: '" + text + "' is not stop, skip or rollback");
}

// --on-nonfinite skip|rollback need an architecture that can drop or redo a step here.
static void validate_nonfinite(const TrainOptions& o) {
  if (o.on_nonfinite == NonFinite::stop) return;
  const std::string flag = std::string("--on-nonfinite ") + to_string(o.on_nonfinite);
  if (o.max_nonfinite < 1 || o.max_nonfinite > 1000000)
    throw UsageError("--max-nonfinite must be 1..1000000, got " + std::to_string(o.max_nonfinite));
  // skip works in every architecture (each drops the update where it is applied:
  // replicas, mesh ranks, ZeRO shards, parameter servers); rollback reloads every
  // rank's part of the state through the layout-free loader (the synchronous
  // parameter servers from worker 0); an asynchronous push is an update of its own
  const bool rollback = o.on_nonfinite == NonFinite::rollback;
  if (rollback && o.servers > 0 && o.ps_mode != PsMode::sync)
    throw UsageError(flag + " with --servers needs --ps-mode sync (an asynchronous push is an "
                     "update of its own); use skip or stop");
  if (rollback && o.servers > 0 && o.backup_workers > 0)
    throw UsageError(flag + " cannot be combined with --backup-workers (a dropped worker "
                     "would not see the step fail); use stop or skip");
  if (rollback && o.checkpoint_dir.empty())
    throw UsageError(flag + " needs --checkpoint-dir (the checkpoint it rolls back to)");
}

void TrainOptions::validate() const {
  require_positive(model.layers, "--layers");
  require_positive(model.dim, "--dim");
  require_positive(model.heads, "--heads");
  require_positive(model.ctx, "--ctx");
  if (model.dim % model.heads != 0)
    throw UsageError("--dim " + std::to_string(model.dim) + " is not divisible by --heads " +
                     std::to_string(model.heads));
  require_positive(batch, "--batch");
  require_non_negative(micro_batch, "--micro-batch");
  require_positive(steps, "--steps");
  if (!(lr > 0)) throw UsageError("--lr must be positive, got " + std::to_string(lr));
  require_non_negative(eval_every, "--eval-every");
  require_positive(eval_windows, "--eval-windows");
  require_non_negative(checkpoint_every, "--checkpoint-every");
  require_positive(keep_checkpoints, "--keep-checkpoints");
  require_non_negative(stop_after, "--stop-after");
  require_positive(workers, "--workers");
  require_non_negative(blas_threads, "--blas-threads");
  if (!(bucket_mb > 0))
    throw UsageError("--bucket-mb must be positive, got " + std::to_string(bucket_mb));
  require_non_negative(ranks_per_node, "--ranks-per-node");
  if (!(timeout_s >= 1 && timeout_s <= 86400))
    throw UsageError("--timeout must be between 1 and 86400 seconds, got " +
                     std::to_string(timeout_s));
  if (!(heartbeat_timeout_s >= 0 && heartbeat_timeout_s <= 86400))
    throw UsageError("--heartbeat-timeout must be between 0 (auto) and 86400 seconds, got " +
                     std::to_string(heartbeat_timeout_s));
  if (memory_snapshot_every > 0 && checkpoint_dir.empty())
    throw UsageError("--memory-snapshot-every needs --checkpoint-dir (a restart resumes from "
                     "the newer of the snapshot and the disk's checkpoint)");
  if (memory_snapshot_every > 0 && servers > 0)
    throw UsageError("--memory-snapshot-every: not with --servers (the servers hold the state)");
  if (min_workers > 0 && max_restarts == 0)
    throw UsageError("--min-workers needs --max-restarts K (it shrinks the job on a restart; "
                     "MPI: plait launch --min-workers)");
  const comm::Backend be = backend;
  // Under MPI the world size is mpirun's -np: the node layout (comm) and the speed
  // count (data_parallel.cpp) are checked at start.
  if (be == comm::Backend::threads && ranks_per_node > 0 && workers % ranks_per_node != 0)
    throw UsageError("--ranks-per-node " + std::to_string(ranks_per_node) +
                     " does not divide --workers " + std::to_string(workers));
  if (be == comm::Backend::threads && !speeds.empty() &&
      static_cast<int>(speeds.size()) != workers)
    throw UsageError("--speeds gives " + std::to_string(speeds.size()) + " speeds for " +
                     std::to_string(workers) + " workers (one per worker)");
  if (!speeds.empty()) {
    try {
      (void)balance::split_proportional(batch, speeds);
    } catch (const UsageError& e) {
      throw UsageError(std::string("--speeds: ") + e.what());
    }
  }
  for (const auto& [text, flag] : {std::pair{&intra_link, "--intra-link"},
                                    std::pair{&inter_link, "--inter-link"}}) {
    if (text->empty()) continue;
    try {
      parse_link(*text);
    } catch (const UsageError& e) {
      throw UsageError(std::string(flag) + ": " + e.what());
    }
  }
  if (sync == SyncAlgorithm::mpi && be != comm::Backend::mpi)
    throw UsageError("--sync mpi needs --backend mpi (under mpirun); with in-process workers "
                     "use " + algorithm_names(true));
  validate_layout();
  validate_ps();
  validate_balance();
  validate_zero();
  validate_nonfinite(*this);
  if (resume && checkpoint_dir.empty())
    throw UsageError("--resume needs --checkpoint-dir (where to find the latest checkpoint)");
  if (stop_after > 0 && checkpoint_dir.empty())
    throw UsageError("--stop-after needs --checkpoint-dir (where to leave the checkpoint)");
}

data::DataOptions TrainOptions::data_options() const {
  data::DataOptions d;
  d.data = data;
  d.val_data = val_data;
  d.tokenizer = tokenizer;
  d.dtype = dtype;
  d.ctx = model.ctx;
  return d;
}

void resolve_tokenizer(TrainOptions& opt) {
  if (opt.tokenizer.empty() && opt.data.size() == 1 && data::is_token_dir(opt.data[0])) {
    if (auto own = data::token_dir_tokenizer(opt.data[0])) {
      opt.model.vocab = own->vocab_size();  // the dataset's; opt.tokenizer stays ""
      return;
    }
  }
  if (opt.tokenizer.empty() && opt.resume && !opt.checkpoint_dir.empty()) {
    try {
      opt.tokenizer = checkpoint_tokenizer_spec(opt.checkpoint_dir);
    } catch (const UsageError&) {
      // no checkpoint yet: the resume itself reports it (or starts afresh)
    }
  }
  if (opt.tokenizer.empty() && !opt.init_from.empty())  // fine-tuning: the weights' tokenizer
    opt.tokenizer = weights_tokenizer_spec(WeightSource::open(opt.init_from));
  if (opt.tokenizer.empty() && opt.data.size() == 1 && data::is_token_dir(opt.data[0]))
    throw UsageError("'" + opt.data[0] + "' is a nanoGPT directory (train.bin, no index.json): "
                     "name its tokenizer with --tokenizer (e.g. gpt2:DIR) and its --dtype");
  if (opt.tokenizer.empty()) opt.tokenizer = "bytes";
  opt.model.vocab = data::load_tokenizer(opt.tokenizer)->vocab_size();
}

nlohmann::json TrainOptions::resume_fingerprint() const {
  return {{"model", model.to_json()},   {"batch", batch},
          {"steps", steps},             {"lr", lr},
          {"warmup", effective_warmup()}, {"seed", seed},
          {"weight_decay", adamw.weight_decay}, {"clip_norm", adamw.clip_norm},
          {"beta1", adamw.beta1},       {"beta2", adamw.beta2}};
}

}  // namespace plait
