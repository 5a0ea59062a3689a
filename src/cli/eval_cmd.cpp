// plait eval: mean cross-entropy (nats per byte) of a checkpoint over a text file.
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/machine_info.h"
#include "cli/registry.h"
#include "data/eval_windows.h"
#include "parallel/evaluate.h"
#include "parallel/train_state.h"
#include "util/error.h"

namespace plait::cli {
namespace {

struct EvalArgs {
  std::string checkpoint;
  std::string data;
  int batch = 16;
  bool json = false;
};

int run_eval(const EvalArgs& a) {
  if (a.batch <= 0) throw UsageError("--batch must be positive, got " + std::to_string(a.batch));
  GPT model = load_model(a.checkpoint);
  auto windows = data::EvalWindows::from_file(a.data, model.config().ctx);
  const EvalResult r = evaluate(model, windows, a.batch);
  if (a.json) {
    std::printf("%s\n", nlohmann::json{{"loss", r.loss},
                                       {"tokens", r.tokens},
                                       {"windows", r.windows},
                                       {"bits_per_byte", r.loss / std::log(2.0)},
                                       {"checkpoint", a.checkpoint},
                                       {"data", a.data}}
                            .dump()
                            .c_str());
  } else {
    std::printf("loss %.4f nats/byte (%.4f bits/byte) over %lld tokens in %lld windows of %s\n",
                r.loss, r.loss / std::log(2.0), static_cast<long long>(r.tokens),
                static_cast<long long>(r.windows), a.data.c_str());
  }
  return 0;
}

void add_eval(Context& ctx) {
  auto a = std::make_shared<EvalArgs>();
  auto* cmd = ctx.root.add_subcommand("eval", "cross-entropy of a checkpoint on a text file");
  add_gemm_option(cmd);
  add_precision_option(cmd);
  cmd->add_option("--checkpoint", a->checkpoint, "a checkpoint or run directory")->required();
  cmd->add_option("--data", a->data, "text file")->required();
  cmd->add_option("--batch", a->batch, "windows per forward pass")->capture_default_str();
  cmd->add_flag("--json", a->json, "machine-readable output");
  cmd->callback([&ctx, a] { ctx.rc = run_eval(*a); });
}

Registrar reg("eval", add_eval);

}  // namespace
}  // namespace plait::cli
