// plait bench sample: generation speed against yardsticks measured in the same run.
//   KV cache vs full recomputation, per --ctx C: a model of context C, a prompt of
//     C - T random tokens, T tokens generated greedily (the window ends full, never
//     slides): tokens/s with the cache over tokens/s recomputing the window for
//     every token (the engine's --no-cache mode, the old `sample`). Both end to end
//     (prompt pass included) and decode steps only. The tokens must be identical.
//   batch B vs 1 (at --batch-ctx): B prompts generated together against one alone,
//     tokens/s of all sequences together over one sequence's.
//   --peer: PyTorch (tools/torch_gpt.py, its own KV cache) generating greedily from
//     the same weights (the first --ctx's model): the same tokens? its decode tokens/s
//     beside plait's.
//   --layouts 1,tp2,pp2,...: model-parallel generation instead (only this is run):
//     per layout, the per-token latency of one sequence (decode steps only) and the
//     tokens/s of --batch sequences, in rotating turns over --reps rounds; ratios to
//     the first layout, and batch over one sequence within each layout. A layout is
//     1 | tpT | ppP | tpTppP, optionally :tN for N BLAS threads per rank (default:
//     cores / ranks). Every layout's greedy tokens must equal the first's.
// Medians of --reps runs; random GPT-2-initialised weights (speed does not depend on
// what the weights say).
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>

#include "cli/infer_layout.h"
#include "cli/machine_info.h"
#include "cli/registry.h"
#include "cli/torch_peer.h"
#include "fault/safetensors.h"
#include "infer/engine.h"
#include "infer/mesh_decoder.h"
#include "model/gpt.h"
#include "tensor/blas.h"
#include "util/error.h"
#include "util/subprocess.h"

namespace plait::cli {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct BenchSampleArgs {
  int layers = 6, dim = 384, heads = 6;
  std::vector<int> ctxs = {128, 512};
  int tokens = 32;
  int batch = 16, batch_tokens = 64, batch_ctx = 128, batch_prompt = 8;
  int reps = 3;
  int threads = 0;
  std::string peer;  // "" finds tools/torch_gpt.py; "none" skips
  std::vector<std::string> layouts;  // --layouts: the model-parallel comparison only
  bool json = false;
};

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

GPT make_model(const BenchSampleArgs& a, int ctx) {
  GPT m(GPTConfig{256, ctx, a.layers, a.dim, a.heads});
  m.init_weights(1);
  return m;
}

std::vector<int32_t> random_prompt(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> p(n);
  for (auto& t : p) t = static_cast<int32_t>(rng() % 256);
  return p;
}

struct Run {
  double total_s = 0, decode_s = 0;  // all steps; the steps after the first
  std::vector<std::vector<int32_t>> tokens;
};

// Greedy generation of `max_tokens` for every prompt on `model` (its slots at once).
Run run_on(infer::StepModel& model, const std::vector<std::vector<int32_t>>& prompts,
           int max_tokens, bool recompute) {
  infer::Engine e(model, nullptr, recompute);
  Run r;
  r.tokens.resize(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    infer::Request q;
    q.prompt = prompts[i];
    q.max_tokens = max_tokens;
    q.sampling.temperature = 0;
    e.submit(q, {.on_token = {}, .on_done = [&r, i](const infer::Result& x) { r.tokens[i] = x.tokens; }});
  }
  const auto t0 = Clock::now();
  e.step();
  const auto t1 = Clock::now();
  e.run_until_idle();
  const auto t2 = Clock::now();
  r.total_s = seconds(t0, t2);
  r.decode_s = seconds(t1, t2);
  return r;
}

// Greedy generation of `max_tokens` for every prompt, `slots` at once.
Run run(const GPT& m, const std::vector<std::vector<int32_t>>& prompts, int max_tokens,
        int slots, bool recompute) {
  infer::Decoder dec(m.config(), m.params, slots);
  return run_on(dec, prompts, max_tokens, recompute);
}

// Medians over reps of `fn`'s runs (each a Run); the tokens of the last.
template <class Fn>
Run median_run(int reps, Fn fn) {
  std::vector<double> total, decode;
  Run last;
  for (int i = 0; i < reps; ++i) {
    last = fn();
    total.push_back(last.total_s);
    decode.push_back(last.decode_s);
  }
  last.total_s = median(total);
  last.decode_s = median(decode);
  return last;
}

json cache_vs_recompute(const BenchSampleArgs& a, int ctx) {
  if (a.tokens < 2 || a.tokens >= ctx)
    throw UsageError("--tokens must be in [2, ctx) for every --ctx (ctx " + std::to_string(ctx) + ")");
  const GPT m = make_model(a, ctx);
  const std::vector<std::vector<int32_t>> prompt = {random_prompt(ctx - a.tokens, ctx)};
  run(m, prompt, 2, 1, false);  // warm-up: first products of each shape, thread start
  run(m, prompt, 2, 1, true);
  const Run cached = median_run(a.reps, [&] { return run(m, prompt, a.tokens, 1, false); });
  const Run full = median_run(a.reps, [&] { return run(m, prompt, a.tokens, 1, true); });
  const double n = a.tokens;
  json j = {{"ctx", ctx},
            {"prompt", ctx - a.tokens},
            {"tokens", a.tokens},
            {"cache_tok_s", n / cached.total_s},
            {"recompute_tok_s", n / full.total_s},
            {"ratio", full.total_s / cached.total_s},
            {"cache_decode_tok_s", (n - 1) / cached.decode_s},
            {"recompute_decode_tok_s", (n - 1) / full.decode_s},
            {"decode_ratio", full.decode_s / cached.decode_s},
            {"same_tokens", cached.tokens == full.tokens}};
  std::fprintf(stderr,
               "ctx %d: KV cache %.1f tok/s, recomputation %.1f tok/s: %.1fx (decode only %.1fx)%s\n",
               ctx, j["cache_tok_s"].get<double>(), j["recompute_tok_s"].get<double>(),
               j["ratio"].get<double>(), j["decode_ratio"].get<double>(),
               cached.tokens == full.tokens ? "" : ", TOKENS DIFFER");
  return j;
}

json batch_vs_one(const BenchSampleArgs& a) {
  const GPT m = make_model(a, a.batch_ctx);
  if (a.batch_prompt + a.batch_tokens > a.batch_ctx)
    throw UsageError("--batch-tokens plus the 8-token prompt must fit --batch-ctx");
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < a.batch; ++i) prompts.push_back(random_prompt(a.batch_prompt, 100 + i));
  run(m, prompts, 2, a.batch, false);  // warm-up
  const Run one = median_run(a.reps, [&] { return run(m, {prompts[0]}, a.batch_tokens, 1, false); });
  const Run many = median_run(a.reps, [&] { return run(m, prompts, a.batch_tokens, a.batch, false); });
  const double t1 = a.batch_tokens / one.total_s, tb = double(a.batch) * a.batch_tokens / many.total_s;
  std::fprintf(stderr, "batch %d: %.1f tok/s vs one sequence %.1f tok/s: %.1fx\n", a.batch, tb,
               t1, tb / t1);
  return {{"ctx", a.batch_ctx}, {"prompt", a.batch_prompt}, {"tokens", a.batch_tokens},
          {"batch", a.batch},   {"tok_s_1", t1},            {"tok_s_batch", tb},
          {"ratio", tb / t1},   {"same_tokens", many.tokens[0] == one.tokens[0]}};
}

// The PyTorch peer on the same weights (written to a temporary safetensors file).
json peer_run(const BenchSampleArgs& a, const std::string& peer) {
  const int ctx = a.ctxs.front();
  const GPT m = make_model(a, ctx);
  const auto prompt = random_prompt(ctx - a.tokens, ctx);
  char tmpl[] = "/tmp/plait-bench-sample-XXXXXX";
  if (!mkdtemp(tmpl)) throw RuntimeError("cannot create a temporary directory in /tmp");
  const std::filesystem::path dir(tmpl), file = dir / "weights.safetensors";
  std::vector<safetensors::TensorOut> ts;
  for (const auto& s : m.table().specs())
    ts.push_back(safetensors::f32_tensor(s.name, s.shape, {m.params.data() + s.offset, s.size}));
  const auto& c = m.config();
  safetensors::write_file(file, ts,
                          {{"vocab", std::to_string(c.vocab)}, {"ctx", std::to_string(c.ctx)},
                           {"layers", std::to_string(c.layers)}, {"dim", std::to_string(c.dim)},
                           {"heads", std::to_string(c.heads)}});
  std::string ids;
  for (int32_t t : prompt) ids += (ids.empty() ? "" : ",") + std::to_string(t);
  const int threads = a.threads > 0 ? a.threads : static_cast<int>(std::thread::hardware_concurrency());
  const std::vector<std::string> argv = {"/usr/bin/python3", peer, "--generate", file.string(),
                                         "--prompt-ids", ids, "--tokens", std::to_string(a.tokens),
                                         "--threads", std::to_string(threads), "--json"};
  std::vector<double> rates;
  json out;
  for (int i = 0; i < a.reps; ++i) {
    const ProcessResult r = run_process(argv);
    try {
      out = json::parse(r.out.substr(r.out.rfind('{')));
    } catch (const std::exception&) {
      std::filesystem::remove_all(dir);
      throw RuntimeError("the PyTorch peer printed no result (exit " + std::to_string(r.exit_code) +
                         "): " + argv_text(argv));
    }
    rates.push_back(out.at("decode_tokens_per_s").get<double>());
  }
  std::filesystem::remove_all(dir);
  run(m, {prompt}, 2, 1, false);  // warm-up
  const Run ours = median_run(a.reps, [&] { return run(m, {prompt}, a.tokens, 1, false); });
  const std::vector<int32_t> theirs = out.at("tokens").get<std::vector<int32_t>>();
  const double plait_rate = (a.tokens - 1) / ours.decode_s, torch_rate = median(rates);
  std::fprintf(stderr, "PyTorch %s (KV cache, %d threads): decode %.1f tok/s vs plait %.1f tok/s: %s tokens\n",
               out.value("version", "?").c_str(), threads, torch_rate, plait_rate,
               theirs == ours.tokens[0] ? "the same" : "DIFFERENT");
  return {{"version", out.value("version", "")}, {"blas", out.value("blas", "")},
          {"threads", threads}, {"ctx", ctx}, {"tokens", a.tokens},
          {"decode_tok_s", torch_rate}, {"plait_decode_tok_s", plait_rate},
          {"plait_over_peer", plait_rate / torch_rate}, {"same_tokens", theirs == ours.tokens[0]}};
}

struct LayoutRun {
  std::string name;
  InferLayout layout;
  std::vector<double> token_s, batch_tok_s, one_tok_s;
  std::vector<double> allreduce_share;  // tp: rank 0's time in the tensor allreduces / the latency run's
  std::vector<std::vector<int32_t>> tokens;  // the last round's (one sequence, then the batch)
};

// "1", "tp2", "pp2", "tp2pp2", with an optional ":tN" (BLAS threads per rank).
LayoutRun parse_layout(const std::string& spec) {
  LayoutRun r;
  r.name = spec;
  std::string s = spec;
  const size_t colon = s.find(':');
  try {
    if (colon != std::string::npos) {
      if (s.compare(colon, 2, ":t") != 0) throw std::invalid_argument(s);
      r.layout.blas_threads = std::stoi(s.substr(colon + 2));
      s.resize(colon);
    }
    if (s != "1") {
      size_t i = 0;
      while (i < s.size()) {
        const bool tp = s.compare(i, 2, "tp") == 0, pp = s.compare(i, 2, "pp") == 0;
        if (!tp && !pp) throw std::invalid_argument(s);
        size_t used = 0;
        const int n = std::stoi(s.substr(i + 2), &used);
        (tp ? r.layout.tp : r.layout.pp) = n;
        i += 2 + used;
      }
    }
  } catch (const std::exception&) {
    throw UsageError("--layouts: '" + spec + "' is not 1, tpT, ppP or tpTppP (optionally :tN)");
  }
  if (r.layout.tp < 1 || r.layout.pp < 1 || r.layout.blas_threads < 0)
    throw UsageError("--layouts: '" + spec + "' has a degree below 1");
  return r;
}

json compare_layouts(const BenchSampleArgs& a) {
  const GPT m = make_model(a, a.batch_ctx);
  if (a.batch_prompt + std::max(a.tokens, a.batch_tokens) > a.batch_ctx)
    throw UsageError("the 8-token prompt plus --tokens and --batch-tokens must fit --batch-ctx");
  std::vector<LayoutRun> runs;
  for (const auto& s : a.layouts) {
    runs.push_back(parse_layout(s));
    check_infer_layout(runs.back().layout, m.config());
  }
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < a.batch; ++i) prompts.push_back(random_prompt(a.batch_prompt, 100 + i));
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int round = 0; round < a.reps; ++round) {
    // rotating turns: round r starts at layout r % n (the machine's load drifts)
    for (size_t k = 0; k < runs.size(); ++k) {
      LayoutRun& L = runs[(k + round) % runs.size()];
      if (!L.layout.parallel() && L.layout.blas_threads == 0) L.layout.blas_threads = cores;
      run_generation(L.layout, m.config(), m.params, a.batch, [&](infer::StepModel& model) {
        run_on(model, {prompts[0]}, 2, false);  // warm-up: threads, first products
        const auto* mesh = dynamic_cast<const infer::MeshDecoder*>(&model);
        const double ar0 = mesh ? mesh->allreduce_seconds() : 0;
        const Run one = run_on(model, {prompts[0]}, a.tokens, false);
        if (mesh) L.allreduce_share.push_back((mesh->allreduce_seconds() - ar0) / one.total_s);
        const Run many = run_on(model, prompts, a.batch_tokens, false);
        L.token_s.push_back(one.decode_s / (a.tokens - 1));
        L.one_tok_s.push_back(a.tokens / one.total_s);
        L.batch_tok_s.push_back(double(a.batch) * a.batch_tokens / many.total_s);
        L.tokens = many.tokens;
        L.tokens.insert(L.tokens.begin(), one.tokens[0]);
      });
      std::fprintf(stderr, "round %d %-10s %.2f ms/token, batch %d: %.1f tok/s", round + 1,
                   L.name.c_str(), 1e3 * L.token_s.back(), a.batch, L.batch_tok_s.back());
      if (L.layout.tp > 1)
        std::fprintf(stderr, ", %.0f%% of the latency run in tp allreduces", 100 * L.allreduce_share.back());
      std::fprintf(stderr, "\n");
    }
  }
  json out = json::array();
  const double base_token = median(runs[0].token_s), base_batch = median(runs[0].batch_tok_s);
  for (auto& L : runs) {
    const double t = median(L.token_s), b = median(L.batch_tok_s), one = median(L.one_tok_s);
    out.push_back({{"layout", L.name}, {"tp", L.layout.tp}, {"pp", L.layout.pp},
                   {"blas_threads_per_rank", L.layout.blas_threads > 0 ? L.layout.blas_threads
                                                                       : std::max(1, cores / (L.layout.tp * L.layout.pp))},
                   {"token_ms", 1e3 * t}, {"token_ms_rounds", L.token_s},
                   {"latency_ratio", t / base_token},
                   {"one_tok_s", one}, {"batch_tok_s", b}, {"batch_tok_s_rounds", L.batch_tok_s},
                   {"batch_ratio", b / base_batch}, {"batch_over_one", b / one},
                   {"same_tokens", L.tokens == runs[0].tokens}});
    if (!L.allreduce_share.empty() && L.layout.tp > 1)
      out.back()["tp_allreduce_share"] = median(L.allreduce_share);
    std::fprintf(stderr, "%-10s %.2f ms/token (%.2fx of %s) | batch %d %.1f tok/s (%.2fx; %.1fx one sequence) | %s tokens\n",
                 L.name.c_str(), 1e3 * t, t / base_token, runs[0].name.c_str(), a.batch, b,
                 b / base_batch, b / one, L.tokens == runs[0].tokens ? "the same" : "DIFFERENT");
  }
  return out;
}

void bench_sample(const BenchSampleArgs& a) {
  if (a.reps < 1 || a.batch < 1 || a.batch_tokens < 1) throw UsageError("--reps, --batch and --batch-tokens must be positive");
  if (a.ctxs.empty()) throw UsageError("--ctx needs at least one context length");
  for (int c : a.ctxs) GPTConfig{256, c, a.layers, a.dim, a.heads}.validate();
  GPTConfig{256, a.batch_ctx, a.layers, a.dim, a.heads}.validate();
  std::string peer = find_peer(a.peer), skipped;
  if (!peer.empty()) skipped = peer_unavailable(peer);
  if (!skipped.empty()) peer.clear();
  if (a.peer != "none" && peer.empty() && skipped.empty()) skipped = "no peer script (tools/torch_gpt.py) found";
  if (a.threads > 0) set_blas_threads(a.threads);
  const GPT probe = make_model(a, a.ctxs.front());
  if (!a.layouts.empty()) {
    if (a.tokens < 2) throw UsageError("--tokens must be at least 2");
    std::fprintf(stderr, "bench sample --layouts: %zu parameters (%d layers, dim %d, %d heads), ctx %d, medians of %d rounds\n",
                 probe.table().total(), a.layers, a.dim, a.heads, a.batch_ctx, a.reps);
    json out = {{"model", {{"layers", a.layers}, {"dim", a.dim}, {"heads", a.heads}, {"vocab", 256},
                           {"ctx", a.batch_ctx}, {"params", probe.table().total()}}},
                {"reps", a.reps}, {"tokens", a.tokens}, {"batch", a.batch},
                {"batch_tokens", a.batch_tokens}, {"machine", machine_json()},
                {"layouts", compare_layouts(a)}};
    if (a.json) std::printf("%s\n", out.dump().c_str());
    return;
  }
  json out = {{"model", {{"layers", a.layers}, {"dim", a.dim}, {"heads", a.heads}, {"vocab", 256},
                         {"params", probe.table().total()}}},
              {"blas_threads", blas_threads()},
              {"reps", a.reps},
              {"machine", machine_json()}};
  std::fprintf(stderr, "bench sample: %zu parameters (%d layers, dim %d, %d heads), %d BLAS threads, medians of %d\n",
               probe.table().total(), a.layers, a.dim, a.heads, blas_threads(), a.reps);
  out["cache_vs_recompute"] = json::array();
  for (int c : a.ctxs) out["cache_vs_recompute"].push_back(cache_vs_recompute(a, c));
  out["batch"] = batch_vs_one(a);
  if (!peer.empty()) out["peer"] = peer_run(a, peer);
  else if (!skipped.empty()) out["peer"] = {{"skipped", skipped}};
  if (a.json) {
    std::printf("%s\n", out.dump().c_str());
    return;
  }
  for (const auto& l : machine_lines()) std::printf("%s\n", l.c_str());
  for (const auto& r : out["cache_vs_recompute"])
    std::printf("ctx %4d: KV cache %8.1f tok/s | recomputation %8.1f tok/s | %.1fx (decode only %.1fx)%s\n",
                r["ctx"].get<int>(), r["cache_tok_s"].get<double>(), r["recompute_tok_s"].get<double>(),
                r["ratio"].get<double>(), r["decode_ratio"].get<double>(),
                r["same_tokens"].get<bool>() ? "" : " TOKENS DIFFER");
  const auto& b = out["batch"];
  std::printf("batch %d: %.1f tok/s | one sequence %.1f tok/s | %.1fx\n", a.batch,
              b["tok_s_batch"].get<double>(), b["tok_s_1"].get<double>(), b["ratio"].get<double>());
}

void add_bench_sample(Context& ctx) {
  auto a = std::make_shared<BenchSampleArgs>();
  auto* cmd = ctx.bench.add_subcommand("sample", "generation: KV cache vs recomputation, batch vs one");
  add_gemm_option(cmd);
  add_precision_option(cmd);
  cmd->add_option("--layers", a->layers, "model layers")->capture_default_str();
  cmd->add_option("--dim", a->dim, "model channels")->capture_default_str();
  cmd->add_option("--heads", a->heads, "attention heads")->capture_default_str();
  cmd->add_option("--ctx", a->ctxs, "context lengths to compare the cache at")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--tokens", a->tokens, "tokens generated per cache/recompute run")
      ->capture_default_str();
  cmd->add_option("--batch", a->batch, "sequences generated together")->capture_default_str();
  cmd->add_option("--batch-tokens", a->batch_tokens, "tokens per sequence in the batch runs")
      ->capture_default_str();
  cmd->add_option("--batch-ctx", a->batch_ctx, "context of the batch runs' model")
      ->capture_default_str();
  cmd->add_option("--reps", a->reps, "runs per measurement (the median is reported)")
      ->capture_default_str();
  cmd->add_option("--blas-threads", a->threads, "BLAS threads (0: the library's default)")
      ->capture_default_str();
  cmd->add_option("--peer", a->peer,
                  "PyTorch peer script ('' finds tools/torch_gpt.py; 'none' skips)")
      ->capture_default_str();
  cmd->add_option("--layouts", a->layouts,
                  "compare model-parallel layouts instead, e.g. 1,tp2,pp2,tp2pp2 (:tN: BLAS threads per rank)")
      ->delimiter(',');
  cmd->add_flag("--json", a->json, "one JSON object");
  cmd->callback([a] { bench_sample(*a); });
}

Registrar reg("bench sample", add_bench_sample);

}  // namespace
}  // namespace plait::cli
