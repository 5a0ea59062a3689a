// plait eval: mean cross-entropy of a checkpoint over text files or a prepared
// dataset, with the checkpoint's tokenizer: nats per token, and bits per byte of the
// text scored (so tokenizers compare fairly).
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/machine_info.h"
#include "cli/machine_checks.h"
#include "cli/registry.h"
#include "data/dataset.h"
#include "data/eval_windows.h"
#include "parallel/checkpoint_tokenizer.h"
#include "parallel/evaluate.h"
#include "parallel/footprint.h"
#include "parallel/train_state.h"
#include "util/error.h"
#include "util/machine.h"

namespace plait::cli {
namespace {

struct EvalArgs {
  std::string checkpoint;
  std::vector<std::string> data;
  std::string dtype = "uint16";
  int batch = 16;
  bool json = false;
};

// Bytes of text the scored targets of every window stand for.
int64_t target_bytes(const data::EvalWindows& w, const data::Tokenizer& tok) {
  const int T = w.ctx();
  std::vector<int32_t> in(T), tg(T);
  int64_t bytes = 0;
  for (int64_t i = 0; i < w.count(); ++i) {
    w.fill(i, 1, in.data(), tg.data());
    bytes += static_cast<int64_t>(tok.decode(tg).size());
  }
  return bytes;
}

int run_eval(const EvalArgs& a) {
  if (a.batch <= 0) throw UsageError("--batch must be positive, got " + std::to_string(a.batch));
  {
    const WeightSource src = WeightSource::open(a.checkpoint);
    require_memory(inference_bytes(src.config(), a.batch, src.config().ctx),
                   "eval --batch " + std::to_string(a.batch) + " with the model of '" +
                       src.where().string() + "'");
  }
  GPT model = load_model(a.checkpoint);
  const auto tok = weights_tokenizer(WeightSource::open(a.checkpoint));
  std::string name;
  data::Tokens tokens = data::load_eval_tokens(a.data, *tok, a.dtype, name);
  data::EvalWindows windows(std::move(tokens), model.config().ctx, "eval data " + name);
  const EvalResult r = evaluate(model, windows, a.batch);
  const int64_t bytes = target_bytes(windows, *tok);
  const double bpb = bytes > 0 ? r.loss * static_cast<double>(r.tokens) / std::log(2.0) / bytes : 0;
  if (a.json) {
    std::printf("%s\n", nlohmann::json{{"loss", r.loss},
                                       {"tokens", r.tokens},
                                       {"bytes", bytes},
                                       {"windows", r.windows},
                                       {"bits_per_byte", bpb},
                                       {"tokenizer", tok->type()},
                                       {"checkpoint", a.checkpoint},
                                       {"data", name}}
                            .dump()
                            .c_str());
  } else {
    std::printf("loss %.4f nats/token, %.4f bits/byte over %lld tokens (%lld bytes, %s) in %lld "
                "windows of %s\n",
                r.loss, bpb, static_cast<long long>(r.tokens), static_cast<long long>(bytes),
                tok->type().c_str(), static_cast<long long>(r.windows), name.c_str());
  }
  return 0;
}

void add_eval(Context& ctx) {
  auto a = std::make_shared<EvalArgs>();
  auto* cmd = ctx.root.add_subcommand(
      "eval", "cross-entropy of a checkpoint on text files or a prepared dataset");
  add_gemm_option(cmd);
  add_precision_option(cmd);
  add_allow_nonfinite_flag(cmd);
  cmd->add_option("--checkpoint", a->checkpoint, "a checkpoint or run directory")->required();
  cmd->add_option("--data", a->data,
                  "text files, or a token directory (its validation split if it has one)")
      ->required();
  cmd->add_option("--dtype", a->dtype, "token type of a nanoGPT directory")->capture_default_str();
  cmd->add_option("--batch", a->batch, "windows per forward pass")->capture_default_str();
  cmd->add_flag("--json", a->json, "machine-readable output");
  cmd->callback([&ctx, a] { ctx.rc = run_eval(*a); });
}

Registrar reg("eval", add_eval);

}  // namespace
}  // namespace plait::cli
