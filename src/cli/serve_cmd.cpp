// plait serve: an OpenAI-style completions server over a checkpoint (src/serve/).
// Ctrl-C (SIGINT) or SIGTERM stops it.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "cli/infer_layout.h"
#include "cli/machine_info.h"
#include "cli/registry.h"
#include "parallel/checkpoint_tokenizer.h"
#include "parallel/train_state.h"
#include "serve/server.h"
#include "tensor/blas.h"
#include "util/error.h"
#include "util/machine.h"

namespace plait::cli {
namespace {

struct ServeArgs {
  std::string checkpoint;
  serve::ServerOptions opt;
  int batch = 16;
  InferLayout layout;
};

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop = true; }

int run_serve(ServeArgs a) {
  if (a.batch < 1) throw UsageError("--batch must be at least 1");
  if (a.layout.blas_threads < 0) throw UsageError("--blas-threads must not be negative");
  // one connection thread per queued request, and 8 more (serve/server.h); they
  // mostly sleep, so the bound is what the process may start, not the cores
  if (a.opt.queue_limit + 8 > thread_headroom())
    throw UsageError("--queue " + std::to_string(a.opt.queue_limit) + ": the server needs " +
                     std::to_string(a.opt.queue_limit + 8) + " threads, this process may start " +
                     std::to_string(thread_headroom()));
  // each rank reads only its slices of the weights (one worker: all of them)
  const GPTConfig cfg = weights_config(a.checkpoint);
  check_infer_layout(a.layout, cfg);
  const auto tok = weights_tokenizer(WeightSource::open(a.checkpoint));
  a.opt.model_name = std::filesystem::path(a.checkpoint).lexically_normal().filename().string();
  if (a.opt.model_name.empty())
    a.opt.model_name = std::filesystem::path(a.checkpoint).lexically_normal().parent_path().filename().string();
  // Every rank catches the signals (under MPI after MPI_Init): a signal to every rank
  // must not end the followers while rank 0 still needs them to stop the server,
  // collect the passes in flight and tell them to end.
  const auto catch_signals = [] {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
  };
  // rank 0 serves (under MPI the other ranks only compute their shards)
  bool served = false;
  run_generation(a.layout, cfg, weights_loader(a.checkpoint), a.batch, [&](infer::StepModel& m) {
    served = true;
    serve::Server server(m, *tok, a.opt);
    const int port = server.bind();
    std::printf("plait serve: listening on http://%s:%d (POST /v1/completions, GET /healthz; "
                "batch %d, queue %d%s)\n",
                a.opt.host.c_str(), port, a.batch, a.opt.queue_limit,
                a.layout.parallel() ? (", tp " + std::to_string(a.layout.tp) + " x pp " +
                                       std::to_string(a.layout.pp)).c_str()
                                    : "");
    std::fflush(stdout);
    std::thread watch([&] {
      while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      server.stop();
    });
    server.run();
    g_stop = true;
    watch.join();
  }, catch_signals);
  if (served) {
    std::printf("plait serve: stopped\n");
    std::fflush(stdout);
  }
  return 0;
}

void add_serve(Context& ctx) {
  auto a = std::make_shared<ServeArgs>();
  auto* cmd = ctx.root.add_subcommand("serve", "serve completions over HTTP (OpenAI-style)");
  add_gemm_option(cmd);
  add_precision_option(cmd);
  cmd->add_option("--checkpoint", a->checkpoint, "a checkpoint or run directory")->required();
  cmd->add_option("--host", a->opt.host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", a->opt.port, "port (0: any free one, printed)")->capture_default_str();
  cmd->add_option("--batch", a->batch, "sequences generated at once")->capture_default_str();
  cmd->add_option("--queue", a->opt.queue_limit, "requests queued or running; more get 429")
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", a->opt.max_body_bytes, "larger request bodies get 413")
      ->capture_default_str();
  cmd->add_option("--max-tokens-limit", a->opt.max_tokens_limit,
                  "largest max_tokens a request may ask for")
      ->capture_default_str();
  add_infer_layout_options(cmd, a->layout);
  cmd->callback([&ctx, a] { ctx.rc = run_serve(*a); });
}

Registrar reg("serve", add_serve);

}  // namespace
}  // namespace plait::cli
