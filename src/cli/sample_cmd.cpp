// plait sample: generates text from a checkpoint, with the checkpoint's tokenizer,
// through the batched KV-cache engine (src/infer/engine.h).
//   --prompt TEXT   one prompt; the text is streamed as it is generated
//   --prompts FILE  one prompt per line, all generated together (--batch at once);
//                   one JSON object per line out, in the file's order. A line that is
//                   a JSON object with "prompt" is a request with its own options
//                   (infer/request_json.h); any other line is the prompt text itself.
//   --tp T --pp P   generation split over T x P ranks (threads, or --backend mpi under
//                   mpirun), the same greedy text as one worker (cli/infer_layout.h).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/infer_layout.h"
#include "cli/machine_info.h"
#include "cli/machine_checks.h"
#include "cli/registry.h"
#include "infer/engine.h"
#include "infer/request_json.h"
#include "parallel/checkpoint_tokenizer.h"
#include "parallel/train_state.h"
#include "tensor/blas.h"
#include "util/error.h"

namespace plait::cli {
namespace {

struct SampleArgs {
  std::string checkpoint;
  std::string prompt;
  std::string prompts_file;
  infer::Request defaults;
  int batch = 16;
  InferLayout layout;
  bool no_cache = false;
};

struct Prompt {
  int line = 0;
  std::string text;
  infer::Request request;
};

std::vector<Prompt> read_prompts(const SampleArgs& a, const data::Tokenizer& tok) {
  // a directory would read as empty, a FIFO could block forever: regular files only
  std::error_code ec;
  const auto st = std::filesystem::status(a.prompts_file, ec);
  if (ec || !std::filesystem::exists(st))
    throw UsageError("--prompts: cannot read " + a.prompts_file + " (no such file)");
  if (!std::filesystem::is_regular_file(st))
    throw UsageError("--prompts: " + a.prompts_file + " is not a regular file");
  std::ifstream in(a.prompts_file, std::ios::binary);
  if (!in) throw UsageError("--prompts: cannot read " + a.prompts_file);
  std::vector<Prompt> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    Prompt p{n, line, a.defaults};
    const auto j = nlohmann::json::parse(line, nullptr, false);
    try {
      if (j.is_object() && j.contains("prompt")) {
        auto r = infer::request_from_json(j, tok, a.defaults);
        p.text = r.prompt;
        p.request = std::move(r.request);
      } else {
        p.request.prompt = tok.encode(line);
      }
    } catch (const UsageError& e) {
      throw UsageError(a.prompts_file + ":" + std::to_string(n) + ": " + e.what());
    }
    out.push_back(std::move(p));
  }
  if (out.empty()) throw UsageError("--prompts: " + a.prompts_file + " holds no prompt");
  return out;
}

std::string json_line(const Prompt& p, const infer::Result& r) {
  nlohmann::json j{{"line", p.line},
                   {"prompt", p.text},
                   {"text", r.text},
                   {"tokens", r.tokens.size()},
                   {"finish_reason", infer::finish_reason_name(r.reason)}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int run_prompts(const SampleArgs& a, const std::vector<Prompt>& prompts, infer::StepModel& dec,
                const data::Tokenizer& tok) {
  infer::Engine engine(dec, &tok, a.no_cache);
  // results go out in the file's order: each as soon as every earlier one is out
  std::map<size_t, std::string> ready;
  size_t next = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    infer::Callbacks cb;
    cb.on_done = [&, i](const infer::Result& r) {
      ready[i] = json_line(prompts[i], r);
      for (auto it = ready.find(next); it != ready.end(); it = ready.find(++next)) {
        std::fputs(it->second.c_str(), stdout);
        std::fputc('\n', stdout);
        ready.erase(it);
      }
      std::fflush(stdout);
    };
    engine.submit(prompts[i].request, std::move(cb));
  }
  engine.run_until_idle();
  return 0;
}

int run_one(const SampleArgs& a, infer::StepModel& dec, const data::Tokenizer& tok) {
  infer::Engine engine(dec, &tok, a.no_cache);
  infer::Request r = a.defaults;
  r.prompt = tok.encode(a.prompt);
  std::fputs(a.prompt.c_str(), stdout);
  infer::Callbacks cb;
  cb.on_token = [](int32_t, std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  };
  engine.submit(std::move(r), std::move(cb));
  engine.run_until_idle();
  std::fputc('\n', stdout);
  return 0;
}

int run_sample(const SampleArgs& a) {
  if (a.defaults.max_tokens < 0) throw UsageError("--tokens must not be negative");
  a.defaults.sampling.validate("--");
  if (a.batch < 1) throw UsageError("--batch must be at least 1");
  if (a.layout.blas_threads < 0) throw UsageError("--blas-threads must not be negative");
  if (!a.prompts_file.empty() && !a.prompt.empty())
    throw UsageError("--prompt and --prompts exclude each other");
  // each rank reads only its slices of the weights (one worker: all of them)
  const GPTConfig cfg = weights_config(a.checkpoint);
  check_infer_layout(a.layout, cfg);
  const infer::ShardLoader load = weights_loader(a.checkpoint);
  const auto tok = weights_tokenizer(WeightSource::open(a.checkpoint));
  int rc = 0;
  if (a.prompts_file.empty()) {
    run_generation(a.layout, cfg, load, 1,
                   [&](infer::StepModel& m) { rc = run_one(a, m, *tok); });
    return rc;
  }
  const auto prompts = read_prompts(a, *tok);
  // with a pipeline of P stages, the --batch slots form P micro-batches
  run_generation(a.layout, cfg, load,
                 static_cast<int>(std::min<size_t>(a.batch, prompts.size())),
                 [&](infer::StepModel& m) { rc = run_prompts(a, prompts, m, *tok); });
  return rc;
}

void add_sample(Context& ctx) {
  auto a = std::make_shared<SampleArgs>();
  a->defaults.max_tokens = 200;
  auto& s = a->defaults.sampling;
  auto* cmd = ctx.root.add_subcommand("sample", "generate text from a checkpoint");
  add_gemm_option(cmd);
  add_precision_option(cmd);
  add_allow_nonfinite_flag(cmd);
  cmd->add_option("--checkpoint", a->checkpoint, "a checkpoint or run directory")->required();
  cmd->add_option("--prompt", a->prompt, "text to continue")->capture_default_str();
  cmd->add_option("--prompts", a->prompts_file,
                  "a file of prompts, one per line (text, or a JSON request object); "
                  "JSON lines out");
  cmd->add_option("--tokens", a->defaults.max_tokens, "tokens to generate (at most)")
      ->capture_default_str();
  cmd->add_option("--temperature", s.temperature, "0: greedy")->capture_default_str();
  cmd->add_option("--top-k", s.top_k, "sample among the k likeliest (0: all)")
      ->capture_default_str();
  cmd->add_option("--top-p", s.top_p, "sample among the likeliest holding this probability")
      ->capture_default_str();
  cmd->add_option("--repetition-penalty", s.repetition_penalty,
                  "divide the logits of ids already seen (1: off)")
      ->capture_default_str();
  cmd->add_option("--seed", s.seed, "sampling seed (each prompt's generator starts from it)")
      ->capture_default_str();
  cmd->add_option("--stop", a->defaults.stop, "stop at this string (repeatable)");
  cmd->add_option("--batch", a->batch, "prompts generated at once (--prompts)")
      ->capture_default_str();
  add_infer_layout_options(cmd, a->layout);
  cmd->add_flag("--no-cache", a->no_cache,
                "recompute the whole context for every token (the reference)");
  cmd->callback([&ctx, a] { ctx.rc = run_sample(*a); });
}

Registrar reg("sample", add_sample);

}  // namespace
}  // namespace plait::cli
