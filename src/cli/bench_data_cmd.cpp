// plait bench tokenizer / bench data: the data path's speed.
//   bench tokenizer: MB/s of text through a tokenizer (one core by default, so it
//                    compares with tools/bench_gpt2_reference.js, the reference encoder)
//   bench data:      time to fill one step's batch from a dataset (text, prepared or
//                    nanoGPT: memory-mapped), and the process's peak RSS
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/registry.h"
#include "data/dataset.h"
#include "data/sampler.h"
#include "data/text_chunks.h"
#include "util/error.h"

namespace plait::cli {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Peak resident set size of this process, MiB (VmHWM).
double peak_rss_mib() {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

struct TokBenchArgs {
  std::string tokenizer = "bytes";
  std::vector<std::string> files;
  int rounds = 5;
  int threads = 1;
  bool json = false;
};

void bench_tokenizer(const TokBenchArgs& a) {
  if (a.rounds < 1 || a.threads < 1) throw UsageError("--rounds and --tokenize-threads must be positive");
  const auto tok = data::load_tokenizer(a.tokenizer);
  data::ChunkReader reader(a.files);
  std::vector<data::TextChunk> chunks;
  std::string text;
  for (data::TextChunk c; reader.next(c);) text += c.text, chunks.push_back(std::move(c));
  std::vector<double> mb_s;
  size_t tokens = 0;
  for (int r = 0; r < a.rounds; ++r) {
    const auto t0 = Clock::now();
    if (a.threads == 1) {
      tokens = tok->encode(text).size();  // one call over the whole text, as the reference
    } else {
      tokens = 0;
      for (const auto& v : data::encode_chunks(*tok, chunks, a.threads)) tokens += v.size();
    }
    mb_s.push_back(text.size() / 1e6 / since(t0));
  }
  const double med = median(mb_s);
  if (a.json) {
    std::printf("%s\n", nlohmann::json{{"tokenizer", tok->type()}, {"bytes", text.size()},
                                       {"tokens", tokens}, {"threads", a.threads},
                                       {"rounds", mb_s}, {"mb_per_s", med},
                                       {"mb_per_s_per_thread", med / a.threads}}
                            .dump()
                            .c_str());
  } else {
    std::printf("%s: %.2f MB of text -> %zu tokens; median %.2f MB/s on %d thread%s (%.2f per "
                "thread) over %d rounds\n",
                tok->type().c_str(), text.size() / 1e6, tokens, med, a.threads,
                a.threads == 1 ? "" : "s", med / a.threads, a.rounds);
  }
}

struct DataBenchArgs {
  data::DataOptions data;
  int batch = 16;
  int steps = 200;
  uint64_t seed = 1337;
  bool json = false;
};

void bench_data(const DataBenchArgs& a) {
  if (a.batch < 1 || a.steps < 1) throw UsageError("--batch and --steps must be positive");
  const auto t0 = Clock::now();
  const data::Dataset ds = data::load_dataset(a.data);
  const double load_s = since(t0);
  const double rss_loaded = peak_rss_mib();
  data::Sampler s(ds.train, a.data.ctx, a.seed);
  std::vector<int32_t> in(static_cast<size_t>(a.batch) * a.data.ctx), tg(in.size());
  std::vector<double> us;
  for (int step = 0; step < a.steps; ++step) {
    const auto t = Clock::now();
    s.fill(step, 0, a.batch, in.data(), tg.data());
    us.push_back(since(t) * 1e6);
  }
  double mean = 0;
  for (double u : us) mean += u / us.size();
  const nlohmann::json j = {{"data", ds.name},           {"train_tokens", ds.train.size()},
                            {"width", ds.train.width()}, {"batch", a.batch},
                            {"ctx", a.data.ctx},         {"steps", a.steps},
                            {"load_s", load_s},          {"fill_us_median", median(us)},
                            {"fill_us_mean", mean},      {"rss_mib_after_load", rss_loaded},
                            {"rss_mib_peak", peak_rss_mib()}};
  if (a.json) std::printf("%s\n", j.dump().c_str());
  else
    std::printf("%s: %lld train tokens (%d-byte); loaded in %.2f s; one batch of %d x %d: "
                "median %.1f us, mean %.1f us over %d steps; peak RSS %.1f MiB\n",
                ds.name.c_str(), static_cast<long long>(ds.train.size()), ds.train.width(),
                load_s, a.batch, a.data.ctx, median(us), mean, a.steps, peak_rss_mib());
}

void add_bench_data(Context& ctx) {
  auto t = std::make_shared<TokBenchArgs>();
  auto* tc = ctx.bench.add_subcommand("tokenizer", "text through a tokenizer, MB/s");
  tc->add_option("--tokenizer", t->tokenizer, "bytes, gpt2:DIR or spm:FILE")->capture_default_str();
  tc->add_option("--data", t->files, "text files")->required()->check(CLI::ExistingPath);
  tc->add_option("--rounds", t->rounds, "timed rounds (the median is reported)")
      ->capture_default_str();
  tc->add_option("--tokenize-threads", t->threads, "1: one encode call; more: chunks in parallel")
      ->capture_default_str();
  tc->add_flag("--json", t->json, "machine-readable output");
  tc->callback([&ctx, t] {
    bench_tokenizer(*t);
    ctx.rc = 0;
  });

  auto d = std::make_shared<DataBenchArgs>();
  auto* dc = ctx.bench.add_subcommand("data", "time to fill a step's batch; peak RSS");
  dc->add_option("--data", d->data.data, "text files or a token directory")
      ->check(CLI::ExistingPath);
  dc->add_option("--tokenizer", d->data.tokenizer, "bytes, gpt2:DIR or spm:FILE");
  dc->add_option("--dtype", d->data.dtype, "a nanoGPT directory's token type")
      ->capture_default_str();
  dc->add_option("--ctx", d->data.ctx, "tokens per sequence")->capture_default_str();
  dc->add_option("--batch", d->batch, "sequences per step")->capture_default_str();
  dc->add_option("--steps", d->steps, "timed steps")->capture_default_str();
  dc->add_flag("--json", d->json, "machine-readable output");
  dc->callback([&ctx, d] {
    bench_data(*d);
    ctx.rc = 0;
  });
}

Registrar reg("bench-data", add_bench_data);

}  // namespace
}  // namespace plait::cli
