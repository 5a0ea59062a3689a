// plait prepare: tokenizes text once into binary shards + index.json (data/prepared.h)
// that `plait train --data DIR` memory-maps.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/registry.h"
#include "data/prepared.h"

namespace plait::cli {
namespace {

struct PrepareArgs {
  data::PrepareOptions opt;
  bool json = false;
};

void add_prepare(Context& ctx) {
  auto a = std::make_shared<PrepareArgs>();
  auto* cmd = ctx.root.add_subcommand("prepare", "tokenize text into memory-mapped token shards");
  cmd->add_option("--data", a->opt.files, "text files")->required()->check(CLI::ExistingPath);
  cmd->add_option("--tokenizer", a->opt.tokenizer, "bytes, gpt2:DIR or spm:FILE")
      ->capture_default_str();
  cmd->add_option("--out", a->opt.out, "the dataset directory to write")->required();
  auto* frac = cmd->add_option("--val-fraction", a->opt.val_fraction,
                               "share of the text (whole chunks, at the end) held out for "
                               "validation")
                   ->capture_default_str();
  cmd->add_option("--val-data", a->opt.val_files, "validation text files (instead of a split)")
      ->check(CLI::ExistingPath)
      ->excludes(frac);
  cmd->add_option("--tokenize-threads", a->opt.threads, "tokenizing threads (0: one per core)")
      ->capture_default_str();
  cmd->add_option("--shard-tokens", a->opt.shard_tokens, "tokens per shard file at most")
      ->capture_default_str();
  cmd->add_flag("!--no-progress", a->opt.progress, "no progress line");
  cmd->add_flag("--json", a->json, "print the summary as JSON");
  cmd->callback([&ctx, a] {
    const data::PrepareSummary s = data::prepare_dataset(a->opt);
    const double mb_s = s.seconds > 0 ? s.text_bytes / 1e6 / s.seconds : 0;
    if (a->json) {
      std::printf("%s\n", nlohmann::json{{"out", a->opt.out},
                                         {"train_tokens", s.train_tokens},
                                         {"val_tokens", s.val_tokens},
                                         {"text_bytes", s.text_bytes},
                                         {"dtype", s.dtype},
                                         {"seconds", s.seconds},
                                         {"threads", s.threads},
                                         {"mb_per_s", mb_s}}
                              .dump()
                              .c_str());
    } else {
      std::printf("prepared %s: %lld train + %lld validation tokens (%s) from %.1f MB of text "
                  "in %.2f s (%.1f MB/s on %d threads)\n",
                  a->opt.out.c_str(), static_cast<long long>(s.train_tokens),
                  static_cast<long long>(s.val_tokens), s.dtype.c_str(), s.text_bytes / 1e6,
                  s.seconds, mb_s, s.threads);
    }
    ctx.rc = 0;
  });
}

Registrar reg("prepare", add_prepare);

}  // namespace
}  // namespace plait::cli
