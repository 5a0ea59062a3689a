// plait export SRC --format hf|nanogpt --out DIR_OR_FILE [--dtype f32|bf16|f16]:
// one consolidated safetensors file (fault/export.h) from a checkpoint of any layout
// or any weights file plait reads, plus config.json and the tokenizer's files.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/machine_checks.h"
#include "cli/registry.h"
#include "fault/export.h"
#include "parallel/checkpoint_tokenizer.h"
#include "util/error.h"

namespace plait::cli {
namespace {

namespace st = safetensors;

struct ExportArgs {
  std::string source, format, out, dtype = "f32";
  bool json = false;
};

ExportOptions parse(const ExportArgs& a) {
  ExportOptions o;
  if (a.format == "hf") o.format = ExportFormat::hf;
  else if (a.format == "nanogpt") o.format = ExportFormat::nanogpt;
  else throw UsageError("--format '" + a.format + "' is not hf or nanogpt");
  if (a.dtype == "f32") o.dtype = st::DType::F32;
  else if (a.dtype == "bf16") o.dtype = st::DType::BF16;
  else if (a.dtype == "f16") o.dtype = st::DType::F16;
  else throw UsageError("--dtype '" + a.dtype + "' is not f32, bf16 or f16");
  o.out = a.out;
  return o;
}

int run_export(const ExportArgs& a) {
  ExportOptions o = parse(a);
  const auto t0 = std::chrono::steady_clock::now();
  const WeightSource src = WeightSource::open(a.source);
  const auto tok = weights_tokenizer(src);  // written beside the weights
  o.tokenizer_type = tok->type();
  o.tokenizer_files = tok->files();
  const ExportResult r = export_weights(src, o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : r.files) files.push_back(f.string());
  if (a.json) {
    std::printf("%s\n", nlohmann::json{{"source", src.where().string()},
                                       {"source_format", weight_format_name(src.format())},
                                       {"format", a.format}, {"dtype", st::dtype_name(o.dtype)},
                                       {"config", src.config().to_json()}, {"tensors", r.tensors},
                                       {"bytes", r.bytes}, {"files", files}, {"seconds", secs},
                                       {"peak_tensor_floats", r.peak_floats}}
                            .dump()
                            .c_str());
    return 0;
  }
  std::printf("exported %lld tensors (%s, %s) of '%s' (%s) in %.2f s:\n",
              static_cast<long long>(r.tensors), a.format.c_str(), st::dtype_name(o.dtype),
              src.where().string().c_str(), weight_format_name(src.format()), secs);
  for (const auto& f : r.files) std::printf("  %s\n", f.string().c_str());
  return 0;
}

void add_export(Context& ctx) {
  auto a = std::make_shared<ExportArgs>();
  auto* cmd = ctx.root.add_subcommand(
      "export", "one Hugging Face or nanoGPT safetensors file from a checkpoint of any layout");
  add_allow_nonfinite_flag(cmd);
  cmd->add_option("source", a->source,
                  "a run or checkpoint directory (any layout), or a weights file / directory")
      ->required();
  cmd->add_option("--format", a->format, "hf (Hugging Face GPT-2) or nanogpt")->required();
  cmd->add_option("--out", a->out,
                  "a directory (model.safetensors, config.json, tokenizer files) or a "
                  "FILE.safetensors (the weights alone)")
      ->required();
  cmd->add_option("--dtype", a->dtype, "f32, bf16 or f16")->capture_default_str();
  cmd->add_flag("--json", a->json, "machine-readable output");
  cmd->callback([&ctx, a] { ctx.rc = run_export(*a); });
}

Registrar reg("export", add_export);

}  // namespace
}  // namespace plait::cli
