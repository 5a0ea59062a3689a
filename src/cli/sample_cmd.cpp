// plait sample: generates text from a checkpoint, with the checkpoint's tokenizer.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/machine_info.h"
#include "cli/registry.h"
#include "model/generate.h"
#include "parallel/checkpoint_tokenizer.h"
#include "parallel/train_state.h"
#include "util/error.h"

namespace plait::cli {
namespace {

struct SampleArgs {
  std::string checkpoint;
  std::string prompt;
  SampleOptions opt;
};

int run_sample(const SampleArgs& a) {
  if (a.opt.tokens < 0) throw UsageError("--tokens must not be negative");
  if (a.opt.temperature < 0) throw UsageError("--temperature must not be negative");
  if (a.opt.top_k < 0) throw UsageError("--top-k must not be negative");
  GPT model = load_model(a.checkpoint);
  const auto tok = weights_tokenizer(WeightSource::open(a.checkpoint));
  std::fputs(a.prompt.c_str(), stdout);
  // Streams the text: after each token, prints what decoding all generated tokens adds
  // (a multi-byte character split across tokens comes out whole).
  std::vector<int32_t> out;
  size_t printed = 0;
  generate(model, tok->encode(a.prompt), a.opt, [&](int32_t t) {
    out.push_back(t);
    const std::string text = tok->decode(out);
    if (text.size() > printed) {
      std::fwrite(text.data() + printed, 1, text.size() - printed, stdout);
      printed = text.size();
      std::fflush(stdout);
    }
  });
  std::fputc('\n', stdout);
  return 0;
}

void add_sample(Context& ctx) {
  auto a = std::make_shared<SampleArgs>();
  auto* cmd = ctx.root.add_subcommand("sample", "generate text from a checkpoint");
  add_gemm_option(cmd);
  add_precision_option(cmd);
  cmd->add_option("--checkpoint", a->checkpoint, "a checkpoint or run directory")->required();
  cmd->add_option("--prompt", a->prompt, "text to continue")->capture_default_str();
  cmd->add_option("--tokens", a->opt.tokens, "tokens to generate")->capture_default_str();
  cmd->add_option("--temperature", a->opt.temperature, "0: greedy")->capture_default_str();
  cmd->add_option("--top-k", a->opt.top_k, "sample among the k likeliest (0: all)")
      ->capture_default_str();
  cmd->add_option("--seed", a->opt.seed, "sampling seed")->capture_default_str();
  cmd->callback([&ctx, a] { ctx.rc = run_sample(*a); });
}

Registrar reg("sample", add_sample);

}  // namespace
}  // namespace plait::cli
