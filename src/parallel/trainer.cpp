#include "parallel/trainer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <cstdlib>
#include <vector>

#include "data/corpus.h"
#include "data/eval_windows.h"
#include "data/sampler.h"
#include "model/adamw.h"
#include "model/gpt.h"
#include "parallel/evaluate.h"
#include "parallel/run_output.h"
#include "parallel/train_state.h"
#include "tensor/blas.h"
#include "util/error.h"

namespace plait {
namespace {

using Clock = std::chrono::steady_clock;

// Gradient of the sum of the per-sequence losses of sequences [first, first+count)
// of `step`, accumulated into model.grads in micro-batches. Returns the loss sum.
double accumulate_gradients(GPT& model, const data::Sampler& sampler, int64_t step,
                            int64_t first, int64_t count, int micro_batch,
                            std::vector<int32_t>& inputs, std::vector<int32_t>& targets) {
  const int T = sampler.ctx();
  double loss_sum = 0;
  for (int64_t done = 0; done < count; done += micro_batch) {
    const int b = static_cast<int>(std::min<int64_t>(micro_batch, count - done));
    sampler.fill(step, first + done, b, inputs.data(), targets.data());
    loss_sum += static_cast<double>(model.forward(inputs.data(), targets.data(), b, T)) * b;
    model.backward();
  }
  return loss_sum;
}

struct Run {
  const TrainOptions& opt;
  data::Corpus corpus;
  data::Sampler sampler;
  data::EvalWindows val;
  GPT model;
  AdamW adam;
  LrSchedule schedule;
  RunOutput out;
  int64_t step = 0;

  explicit Run(const TrainOptions& o)
      : opt(o),
        corpus(data::Corpus::load(o.data, o.model.ctx)),
        sampler(corpus.train(), o.model.ctx, o.seed),
        val(std::vector<uint8_t>(corpus.val().begin(), corpus.val().end()), o.model.ctx,
            "the validation split"),
        model(o.model),
        adam(model.table(), o.adamw),
        schedule{o.lr, o.effective_warmup(), static_cast<int>(o.steps), 0.1f},
        out(o) {}

  nlohmann::json fingerprint() const {
    auto f = opt.resume_fingerprint();
    f["corpus_bytes"] = corpus.size();
    f["corpus_hash"] = corpus_hash(corpus.bytes());
    return f;
  }

  void start() {
    if (opt.resume) {
      step = load_train_state(opt.checkpoint_dir, fingerprint(), model, adam);
      if (step >= opt.steps)
        throw UsageError("--resume: the checkpoint in '" + opt.checkpoint_dir + "' is at step " +
                         std::to_string(step) + ", already the end of a " +
                         std::to_string(opt.steps) + "-step run");
    } else {
      model.init_weights(opt.seed);
    }
  }

  std::string describe() const {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "training %zu parameters (%d layers, dim %d, %d heads, ctx %d) on %s: "
                  "%lld train / %lld validation bytes, batch %d, 1 worker",
                  model.table().total(), opt.model.layers, opt.model.dim, opt.model.heads,
                  opt.model.ctx, corpus.name().c_str(),
                  static_cast<long long>(corpus.train_size()),
                  static_cast<long long>(corpus.val_size()), opt.batch);
    return buf;
  }

  double validation_loss() {
    const int b = opt.micro_batch > 0 ? opt.micro_batch : opt.batch;
    return evaluate(model, val, b, opt.eval_windows).loss;
  }

  // One optimizer step; returns the training loss of the global batch.
  double train_step(std::vector<int32_t>& inputs, std::vector<int32_t>& targets, double& norm) {
    const int mb = opt.micro_batch > 0 ? opt.micro_batch : opt.batch;
    model.zero_grads();
    auto t0 = out.now();
    const double loss_sum =
        accumulate_gradients(model, sampler, step, 0, opt.batch, mb, inputs, targets);
    out.trace_event("forward+backward", "compute", t0);
    t0 = out.now();
    const float inv_batch = 1.0f / static_cast<float>(opt.batch);
    for (float& g : model.grads) g *= inv_batch;
    norm = clip_grad_norm(model.grads, opt.adamw.clip_norm);
    adam.step(model.params, model.grads, schedule.at(step), step + 1);
    out.trace_event("optimizer", "compute", t0);
    return loss_sum / opt.batch;
  }
};

bool due(int64_t every, int64_t done) { return every > 0 && done % every == 0; }

// Test hook: with PLAIT_TEST_PAUSE_AFTER_CHECKPOINT=S the run, once its step-S
// checkpoint is committed, creates <checkpoint dir>/paused and waits to be killed.
// Lets a test SIGKILL a run at a known point without depending on timing.
void maybe_pause_for_test(const std::string& run_dir, int64_t step) {
  const char* env = std::getenv("PLAIT_TEST_PAUSE_AFTER_CHECKPOINT");
  if (!env || std::atoll(env) != step) return;
  std::FILE* f = std::fopen((run_dir + "/paused").c_str(), "w");
  if (f) std::fclose(f);
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

}  // namespace

TrainSummary train(const TrainOptions& opt) {
  opt.validate();
  set_blas_threads(opt.effective_blas_threads());
  Run run(opt);
  run.start();
  TrainSummary sum;
  sum.first_step = sum.step = run.step;
  const int64_t end = opt.stop_after > 0 ? std::min(opt.steps, run.step + opt.stop_after)
                                         : opt.steps;
  const int mb = opt.micro_batch > 0 ? opt.micro_batch : opt.batch;
  std::vector<int32_t> inputs(static_cast<size_t>(mb) * opt.model.ctx), targets(inputs.size());
  run.out.begin(run.step, end, run.describe());
  const auto t_start = Clock::now();
  while (run.step < end) {
    double norm = 0;
    const double loss = run.train_step(inputs, targets, norm);
    const float lr = run.schedule.at(run.step);
    ++run.step;
    sum.last_loss = loss;
    std::optional<double> val;
    if (due(opt.eval_every, run.step) || run.step == opt.steps) {
      val = run.validation_loss();
      if (sum.first_val_loss < 0) sum.first_val_loss = *val;
      sum.last_val_loss = *val;
    }
    run.out.step(run.step, loss, lr, norm, val);
    const bool last = run.step == end;
    if (!opt.checkpoint_dir.empty() && (due(opt.checkpoint_every, run.step) || last))
    {
      sum.checkpoint = save_train_state(opt.checkpoint_dir, run.fingerprint(), run.step,
                                        run.model, run.adam, opt.keep_checkpoints);
      maybe_pause_for_test(opt.checkpoint_dir, run.step);
    }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t_start).count();
  sum.step = run.step;
  sum.steps_done = run.step - sum.first_step;
  sum.tokens_per_s =
      secs > 0 ? static_cast<double>(sum.steps_done) * opt.batch * opt.model.ctx / secs : 0;
  run.out.end(sum);
  return sum;
}

}  // namespace plait
