// plait bench train: training-step speed on one worker against two yardsticks
// measured in the same run: the BLAS's own sgemm GFLOP/s, and (with --peer)
// PyTorch's step time for the same model, paired run by run.
// With --workers N > 1: data-parallel steps on N threads (--blas-threads BLAS threads
// each), tokens/s and the share of step time spent waiting for the gradients'
// reduction, against one worker's tokens/s measured in the same run (the scaling).
// With --tp T / --pp P (the layout flags of `plait train`): steps of that dp x tp x pp
// mesh, tokens/s and the pipeline bubble per stage against (P-1)/(M+P-1); with
// --compare L1,L2,...: several layouts taking turns, each against the first
// (cli/bench_layouts.h).
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/bench_layouts.h"
#include "cli/machine_info.h"
#include "cli/machine_checks.h"
#include "cli/model_spec_of.h"
#include "cli/registry.h"
#include "cli/torch_peer.h"
#include "layout/schedule.h"
#include "parallel/bench.h"
#include "parallel/train_bench.h"
#include "plan/flops.h"
#include "tensor/blas.h"
#include "util/error.h"
#include "util/subprocess.h"

namespace plait::cli {
namespace {

struct BenchTrainArgs {
  TrainBenchOptions bench;
  int threads = 1;
  int pairs = 5;
  std::string peer;   // path of torch_gpt.py; "" = find it; "none" = skip
  bool json = false;
  // data parallel
  int workers = 1;
  std::string sync;
  double bucket_mb = 4.0;
  bool overlap = true;
  int ranks_per_node = 0;
  std::string intra_link, inter_link;
  // model parallel (as in `plait train`)
  int dp = 0, tp = 1, pp = 1;
  std::vector<int> stages;
  int micro_batches = 0;
  std::string schedule = "1f1b";
  std::vector<std::string> compare;
  int rounds = 0;  // 0: 1 for one layout, 3 for --compare
};

double peak_rss_bytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) * 1024.0;
}

// One run of the PyTorch peer: its median step and the BLAS it ran its products on.
struct PeerRun {
  double step_s = 0;
  std::string blas;      // library (and OpenBLAS core)
  int blas_threads = 0;  // OpenBLAS's thread count (0: not OpenBLAS)
};

// Runs the PyTorch peer once with the same configuration (its BLAS on --blas-threads
// threads too). The peer is started with an argument vector, never through a shell.
PeerRun run_peer(const std::string& peer, const BenchTrainArgs& a) {
  const auto& m = a.bench.model;
  const std::vector<std::string> argv = {
      "/usr/bin/python3", peer,  "--layers", std::to_string(m.layers),
      "--dim",            std::to_string(m.dim), "--heads", std::to_string(m.heads),
      "--ctx",            std::to_string(m.ctx), "--batch", std::to_string(a.bench.batch),
      "--threads",        std::to_string(a.threads), "--steps", std::to_string(a.bench.steps),
      "--json"};
  const ProcessResult r = run_process(argv);
  try {
    if (r.exit_code != 0) throw RuntimeError("exit " + std::to_string(r.exit_code));
    const auto j = nlohmann::json::parse(r.out.substr(r.out.rfind('{')));
    return {j.at("step_ms").get<double>() / 1e3, j.value("blas", std::string()),
            j.value("blas_threads", 0)};
  } catch (const std::exception&) {
    throw RuntimeError("the PyTorch peer printed no result (exit " +
                       std::to_string(r.exit_code) + "; is python3-torch installed?): " +
                       argv_text(argv));
  }
}

TrainOptions dp_options(const BenchTrainArgs& a, int workers) {
  TrainOptions o;
  o.model = a.bench.model;
  o.batch = a.bench.batch;
  o.steps = a.bench.warmup + a.bench.steps;
  o.seed = a.bench.seed;
  o.progress = false;
  o.workers = workers;
  o.blas_threads = a.threads;
  o.sync = workers > 1 ? parse_sync_flag(a.sync) : std::nullopt;
  o.bucket_mb = a.bucket_mb;
  o.overlap = a.overlap;
  o.ranks_per_node = workers > 1 ? a.ranks_per_node : 0;
  if (workers > 1) {
    o.intra_link = a.intra_link;
    o.inter_link = a.inter_link;
  }
  return o;
}

// --workers N > 1: N workers against one, both measured here.
int run_bench_data_parallel(const BenchTrainArgs& a) {
  set_blas_threads(a.threads);
  const DataParallelBench one =
      bench_data_parallel(dp_options(a, 1), a.bench.warmup, a.bench.steps);
  const DataParallelBench many =
      bench_data_parallel(dp_options(a, a.workers), a.bench.warmup, a.bench.steps);
  const double scaling = many.tokens_per_s / one.tokens_per_s;
  const auto& m = a.bench.model;
  nlohmann::json j = {{"model", m.to_json()}, {"batch", a.bench.batch},
                      {"threads_per_worker", a.threads}, {"workers", a.workers},
                      {"sync", many.sync}, {"bucket_mb", a.bucket_mb},
                      {"buckets", many.buckets}, {"overlap", a.overlap},
                      {"step_ms", many.median_step_s * 1e3},
                      {"tokens_per_s", many.tokens_per_s},
                      {"comm_wait_share", many.comm_wait_share},
                      {"one_worker_tokens_per_s", one.tokens_per_s},
                      {"scaling_over_one_worker", scaling}};
  if (a.json) {
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("%d workers (sync %s, %zu buckets of %.2f MiB%s): step %.1f ms, %.0f tok/s\n",
              a.workers, many.sync.c_str(), many.buckets, a.bucket_mb,
              a.overlap ? ", overlapped" : ", no overlap", many.median_step_s * 1e3,
              many.tokens_per_s);
  std::printf("waiting on communication: %.1f%% of step time (mean over ranks)\n",
              100 * many.comm_wait_share);
  std::printf("1 worker (same run): %.0f tok/s -> scaling %.2f\n", one.tokens_per_s, scaling);
  return 0;
}

// The layout flags on top of the data-parallel options.
LayoutBenchArgs layout_args(const BenchTrainArgs& a) {
  LayoutBenchArgs l;
  l.base = dp_options(a, a.workers);
  l.base.dp = a.dp;
  l.base.tp = a.tp;
  l.base.pp = a.pp;
  l.base.stages = a.stages;
  l.base.micro_batches = a.micro_batches;
  l.base.schedule = parse_schedule_flag(a.schedule);
  l.warmup = a.bench.warmup;
  l.steps = a.bench.steps;
  l.rounds = a.rounds > 0 ? a.rounds : a.compare.empty() ? 1 : 3;
  l.json = a.json;
  return l;
}

int run_bench_train(const BenchTrainArgs& a) {
  if (a.workers < 1) throw UsageError("--workers must be positive, got " +
                                      std::to_string(a.workers));
  a.bench.model.validate();
  if (a.bench.batch <= 0 || a.bench.steps <= 0 || a.pairs <= 0 || a.threads <= 0)
    throw UsageError("--batch, --steps, --pairs and --blas-threads must be positive");
  if (a.rounds < 0) throw UsageError("--rounds must be positive, got " + std::to_string(a.rounds));
  check_train_machine(layout_args(a).base);  // threads and memory, first
  if (!a.compare.empty()) return run_bench_compare(layout_args(a), a.compare);
  if (a.tp > 1 || a.pp > 1) return run_bench_layout(layout_args(a));
  if (a.dp > 0 || !a.stages.empty() || a.micro_batches > 0) {
    // No model parallelism: the data-parallel bench, after the layout's own checks.
    TrainOptions o = layout_args(a).base;
    o.validate();
  }
  if (a.workers > 1) return run_bench_data_parallel(a);
  set_blas_threads(a.threads);
  std::string peer = find_peer(a.peer), skipped;
  if (peer.empty() && a.peer != "none") skipped = "no peer script (tools/torch_gpt.py) found";
  if (!peer.empty()) skipped = peer_unavailable(peer);
  if (!skipped.empty()) {
    std::fprintf(stderr, "bench train: PyTorch comparison skipped: %s\n", skipped.c_str());
    peer.clear();
  }
  std::vector<double> plait_s, ratios;
  PeerRun peer_run;
  TrainBenchResult first;
  double rss = 0;
  for (int i = 0; i < (peer.empty() ? 1 : a.pairs); ++i) {
    TrainBenchResult r = bench_train_steps(a.bench);
    if (i == 0) { first = r; rss = peak_rss_bytes(); }
    plait_s.push_back(r.median_step_s);
    if (!peer.empty()) {
      peer_run = run_peer(peer, a);
      ratios.push_back(r.median_step_s / peer_run.step_s);
    }
    if (!a.json) std::fprintf(stderr, "pair %d/%d: plait %.1f ms%s\n", i + 1, a.pairs,
                              r.median_step_s * 1e3, peer.empty() ? "" : ", PyTorch run");
  }
  const auto& m = a.bench.model;
  const double step = median(plait_s);
  const double sgemm = measure_sgemm_gflops(a.bench.batch * m.ctx, 4 * m.dim, m.dim, 7);
  // The machine's yardstick whatever the backend: oneDNN's sgemm at n = 1024.
  const double onednn_1024 = measure_sgemm_gflops(GemmBackend::onednn, 1024, 1024, 1024, 5);
  // model FLOPs: the planner's count (plan/flops.h), the numerator of MFU
  const double flops_per_step =
      plan::training_flops_per_token(model_spec_of(m, a.bench.batch, "bench", "bench train")) *
      a.bench.batch * m.ctx;
  const double gflops = flops_per_step / step / 1e9;
  nlohmann::json j = machine_json();
  j.update({
      {"model", m.to_json()}, {"batch", a.bench.batch}, {"threads", a.threads},
      {"params", first.params}, {"step_ms", step * 1e3},
      {"tokens_per_s", a.bench.batch * m.ctx / step}, {"gflops", gflops},
      {"sgemm_gflops", sgemm}, {"gflops_over_sgemm", gflops / sgemm},
      {"peak_rss_bytes", rss}, {"needed_bytes", first.needed_bytes},
      {"rss_over_needed", rss / first.needed_bytes},
      {"onednn_sgemm_1024_gflops", onednn_1024},
      {"gflops_over_onednn_sgemm_1024", gflops / onednn_1024}});
  if (!skipped.empty()) j["pytorch_skipped"] = skipped;
  if (!ratios.empty()) {
    j["pytorch_pairs"] = ratios.size();
    j["step_time_over_pytorch"] = median(ratios);
    j["pytorch_blas"] = peer_run.blas;
    j["pytorch_blas_threads"] = peer_run.blas_threads;
  }
  if (a.json) {
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  for (const std::string& line : machine_lines()) std::printf("%s\n", line.c_str());
  std::printf("plait train step: %.1f ms, %.0f tok/s, %.2f GFLOP/s achieved\n", step * 1e3,
              j["tokens_per_s"].get<double>(), gflops);
  std::printf("sgemm (same run):  %.2f GFLOP/s  -> achieved/sgemm = %.2f\n", sgemm,
              gflops / sgemm);
  std::printf("oneDNN sgemm n=1024 (same run): %.2f GFLOP/s -> achieved/that = %.2f\n",
              onednn_1024, gflops / onednn_1024);
  std::printf("memory: peak RSS %.1f MB, needed %.1f MB -> ratio %.2f\n", rss / 1e6,
              first.needed_bytes / 1e6, rss / first.needed_bytes);
  if (!ratios.empty())
    std::printf("step time / PyTorch's (median of %zu pairs): %.2f\n", ratios.size(),
                median(ratios));
  return 0;
}

void add_bench_train(Context& ctx) {
  auto a = std::make_shared<BenchTrainArgs>();
  auto* cmd = ctx.bench.add_subcommand("train", "training-step speed vs sgemm and PyTorch");
  add_gemm_option(cmd);
  add_precision_option(cmd);
  auto& m = a->bench.model;
  cmd->add_option("--layers", m.layers)->capture_default_str();
  cmd->add_option("--dim", m.dim)->capture_default_str();
  cmd->add_option("--heads", m.heads)->capture_default_str();
  cmd->add_option("--ctx", m.ctx)->capture_default_str();
  cmd->add_option("--batch", a->bench.batch)->capture_default_str();
  cmd->add_option("--steps", a->bench.steps, "timed steps per run")->capture_default_str();
  cmd->add_option("--blas-threads", a->threads,
                  "BLAS threads per worker (PyTorch gets the same)")
      ->capture_default_str();
  cmd->add_option("--pairs", a->pairs, "paired plait/PyTorch runs")->capture_default_str();
  cmd->add_option("--peer", a->peer,
                  "PyTorch peer script (default the repository's tools/torch_gpt.py; 'none' skips)");
  auto* workers = cmd->add_option("--workers", a->workers,
                                  "workers (threads; default: dp x tp x pp with a layout)")
                      ->capture_default_str();
  // Model parallelism, the flags of `plait train` (docs/MODEL_PARALLEL.md).
  cmd->add_option("--dp", a->dp, "data-parallel replicas (default: workers / (tp x pp))");
  cmd->add_option("--tp", a->tp, "tensor-parallel ranks per replica (Megatron split)")
      ->capture_default_str();
  cmd->add_option("--pp", a->pp, "pipeline stages per replica")->capture_default_str();
  cmd->add_option("--stages", a->stages, "blocks per pipeline stage, e.g. 3,3,2 "
                  "(default: balanced)")
      ->delimiter(',');
  cmd->add_option("--micro-batches", a->micro_batches,
                  "pipeline micro-batches per replica's share of the batch (default: pp)");
  cmd->add_option("--schedule", a->schedule, "pipeline schedule: " + schedule_names())
      ->capture_default_str();
  cmd->add_option("--compare", a->compare,
                  "layouts taking turns, each against the first, e.g. dp2,tp2,pp2,tp2pp2")
      ->delimiter(',');
  cmd->add_option("--rounds", a->rounds,
                  "repetitions of a layout bench (default 1; 3 with --compare); medians");
  cmd->add_option("--sync", a->sync, "allreduce for --workers > 1 (default: by size)");
  cmd->add_option("--bucket-mb", a->bucket_mb, "gradient bucket size in MiB")
      ->capture_default_str();
  cmd->add_flag("!--no-overlap", a->overlap, "reduce only after the backward pass");
  cmd->add_option("--ranks-per-node", a->ranks_per_node, "emulated nodes of N workers")
      ->capture_default_str();
  cmd->add_option("--intra-link", a->intra_link, "emulated link inside a node, LAT:BW");
  cmd->add_option("--inter-link", a->inter_link, "emulated link between nodes, LAT:BW");
  add_oversubscribe_flag(cmd);
  cmd->add_flag("--json", a->json, "machine-readable output");
  cmd->callback([&ctx, a, workers] {
    // With a layout and no --workers, the mesh fixes the worker count.
    if (workers->count() == 0 && (a->dp > 0 || a->tp > 1 || a->pp > 1))
      a->workers = std::max(1, a->dp) * a->tp * a->pp;
    ctx.rc = run_bench_train(*a);
  });
}

Registrar reg("bench-train", add_bench_train);

}  // namespace
}  // namespace plait::cli
