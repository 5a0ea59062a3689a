#include "parallel/replica.h"


#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fault/finite.h"
#include "parallel/dp_steal.h"
#include "parallel/evaluate.h"
#include "parallel/memory_report.h"
#include "parallel/shard_snapshot.h"
#include "parallel/step_exchange.h"
#include "parallel/train_state.h"
#include "util/cpu_time.h"
#include "util/error.h"

namespace plait {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string describe_replica(const Replica& r) {
  const TrainOptions& opt = r.opt;
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "training %zu parameters (%d layers, dim %d, %d heads, ctx %d) on %s: "
                "%lld train / %lld validation tokens (%s), batch %d, %d worker%s",
                r.model.table().total(), opt.model.layers, opt.model.dim, opt.model.heads,
                opt.model.ctx, r.data.dataset.name.c_str(),
                static_cast<long long>(r.data.dataset.train.size()),
                static_cast<long long>(r.data.dataset.val.size()),
                r.data.dataset.tokenizer->type().c_str(), opt.batch, opt.workers,
                opt.workers == 1 ? "" : "s");
  return buf;
}

}  // namespace

RunData::RunData(const TrainOptions& o) : RunData(o, data::load_dataset(o.data_options())) {}

RunData::RunData(const TrainOptions& o, data::Corpus c)
    : RunData(o, data::dataset_from_corpus(std::move(c))) {}

RunData::RunData(const TrainOptions& o, data::Dataset d)
    : dataset(std::move(d)),
      sampler(dataset.train, o.model.ctx, o.seed),
      val(dataset.val, o.model.ctx, dataset.val_name) {
  const int v = dataset.tokenizer->vocab_size();
  if (o.model.vocab != v)
    throw UsageError("model vocabulary " + std::to_string(o.model.vocab) + " is not the " +
                     dataset.tokenizer->type() + " tokenizer's " + std::to_string(v) +
                     " (data " + dataset.name + ")");
}

nlohmann::json RunData::fingerprint(const TrainOptions& opt) const {
  auto f = opt.resume_fingerprint();
  f["corpus_bytes"] = dataset.train.size() + dataset.val.size();  // tokens
  f["corpus_hash"] = dataset.hash;
  if (dataset.tokenizer->type() != "bytes") f["tokenizer"] = dataset.tokenizer->fingerprint();
  return f;
}

Replica::Replica(const TrainOptions& o, const RunData& d, int rank_, int64_t first,
                 int64_t count)
    : opt(o),
      data(d),
      model(o.model),
      adam(model.table(), o.adamw),
      schedule(o.lr_schedule()),
      rank(rank_),
      first_seq(first),
      seqs(count),
      gathered_(std::span<const ParamSpec>{}, 0, o.adamw) {
  model.set_recompute(o.recompute);
}

void Replica::set_share(int64_t first, int64_t count) {
  first_seq = first;
  seqs = count;
}

void Replica::start() {
  step = start_state(opt, data.fingerprint(opt), model, adam, &resumed_extra);
  if (resumed_extra.is_object()) data_shift = resumed_extra.value("data_shift", int64_t{0});
}

double Replica::validation_loss() {
  const int b = opt.micro_batch > 0 ? opt.micro_batch : opt.batch;
  return evaluate(model, data.val, b, opt.eval_windows).loss;
}

double Replica::micro_batch(int64_t first, int b, bool first_mb, bool last, double slow) {
  const int T = data.sampler.ctx();
  if (inputs_.size() < static_cast<size_t>(b) * T) {
    inputs_.resize(static_cast<size_t>(b) * T);
    targets_.resize(inputs_.size());
  }
  const balance::WorkStart m0(slow);
  data.sampler.fill(step + data_shift, first, b, inputs_.data(), targets_.data());
  const double loss = static_cast<double>(model.forward(inputs_.data(), targets_.data(), b, T)) * b;
  // ZeRO-2/3 (each micro-batch reduced): the previous one's reduction is done before
  // this backward pass adds to the arena; its forward pass overlapped it
  const bool rounds = sync && sync->reduces_each_micro_batch();
  if (rounds && !first_mb) sync->next_round();
  if (sync) sync->pass_begins(first_mb || rounds);
  if (sync && (last || rounds) && opt.overlap)
    model.backward([this](size_t offset) { sync->ready(offset); });
  else
    model.backward();
  if (rounds && !last) sync->ready(0);
  balance::throttle(m0);
  return loss;
}

// Gradient of the sum of the per-sequence losses of this rank's share, accumulated
// into model.grads in micro-batches. Only the LAST micro-batch reports readiness to
// the sync: before it, every gradient still has contributions to come. Under work
// stealing no micro-batch is known to be the last before the pool is empty, so the
// reduction starts at finish() (GradSync::finish hands every bucket over).
// Returns the local loss sum.
double Replica::accumulate() {
  const double slow = balance::slowdown_at(opt.slowdowns, rank, step);
  const auto t0 = Clock::now();
  double loss_sum = 0;
  int64_t ran = 0;
  if (steal) {
    steal->begin_step(step);
    const bool traced = trace && trace->enabled();
    for (auto m = steal->next(); m.count > 0; m = steal->next()) {
      const double p0 = traced ? trace->now_us() : 0;
      loss_sum += micro_batch(m.first, static_cast<int>(m.count), ran == 0, false, slow);
      ran += m.count;
      if (traced)  // each pass: its sequences, and whether they were the pool's
        trace->complete(m.first >= steal->pool_first() ? "pool pass" : "own pass", "compute",
                        rank, obs::kLaneCompute, p0, trace->now_us() - p0,
                        {{"first", m.first}, {"count", m.count}});
    }
  } else {
    // The share may change between steps (balancing): micro-batches of the whole share
    // when --micro-batch is 0.
    const int64_t mb = opt.micro_batch > 0 ? opt.micro_batch : std::max<int64_t>(1, seqs);
    const size_t floats = static_cast<size_t>(mb) * data.sampler.ctx();
    if (inputs_.size() < floats) {
      inputs_.resize(floats);
      targets_.resize(floats);
    }
    for (int64_t done = 0; done < seqs; done += mb) {
      const int b = static_cast<int>(std::min<int64_t>(mb, seqs - done));
      loss_sum += micro_batch(first_seq + done, b, done == 0, done + mb >= seqs, slow);
    }
    ran = seqs;
  }
  timing.compute_s = seconds_since(t0);
  timing.seqs = ran;
  return loss_sum;
}

double Replica::train_step(double& norm) {
  if (zero) zero->zero_grads(model.grads);
  else model.zero_grads();
  if (zero && zero->stage() == 3) zero->shard_params();  // after a checkpoint's gather
  if (sync) sync->begin_step(model.grads);
  const double t0 = trace ? trace->now_us() : 0;
  double loss_sum = 0;
  if (!sync || sync->wants_gradients()) loss_sum = accumulate();
  else timing.compute_s = 0;
  if (trace && trace->enabled())
    trace->complete("forward+backward", "compute", rank, obs::kLaneCompute, t0,
                    trace->now_us() - t0);
  if (sync) {
    const double t1 = trace ? trace->now_us() : 0;
    const auto w0 = Clock::now();
    const double c0 = thread_cpu_s();
    if (exchange) {  // the timing sent is this step's: compute, then the gradients' wait
      timing.work_cpu_s = c0 - wait_cpu_s;
      sync->finish_gradients();
      timing.wait_s = seconds_since(w0);
      const bool traced = trace && trace->enabled();
      const double x0 = traced ? trace->now_us() : 0;
      loss_sum = exchange->run(loss_sum, timing);
      if (traced)  // inside "wait for gradients": the records' exchange
        trace->complete("step exchange", "comm", rank, obs::kLaneCompute, x0,
                        trace->now_us() - x0);
    } else {
      loss_sum = sync->finish(loss_sum);
      timing.wait_s = seconds_since(w0);
    }
    wait_cpu_s += thread_cpu_s() - c0;
    if (trace && trace->enabled())
      trace->complete("wait for gradients", "comm", rank, obs::kLaneCompute, t1,
                      trace->now_us() - t1);
  }
  const double t2 = trace ? trace->now_us() : 0;
  if (zero) {
    if (!nan_injected_) {  // into the shard that owns the tensor's first float only:
      // elsewhere the page is released (stages 2, 3) and a NaN written there would stay
      std::vector<ParamSpec> owned;
      const comm::Shard s = zero->shard();
      for (const ParamSpec& p : model.table().specs())
        if (p.offset >= s.offset && p.offset < s.offset + s.count) owned.push_back(p);
      nan_injected_ = inject_nan_for_test(owned, step, model.grads);
    }
    norm = zero->step(model.params, model.grads, loss_sum, opt.batch, schedule.at(step), step + 1);
    if (trace && trace->enabled())
      trace->complete("zero update", "comm", rank, obs::kLaneCompute, t2, trace->now_us() - t2);
    return loss_sum / opt.batch;
  }
  // the global batch, or with backup workers the sequences that contributed
  const int64_t over = sync ? sync->divisor(opt.batch) : opt.batch;
  const float inv_batch = 1.0f / static_cast<float>(over);
  for (float& g : model.grads) g *= inv_batch;
  if (!nan_injected_) nan_injected_ = inject_nan_for_test(model.table().specs(), step, model.grads);
  norm = grad_norm(model.grads);
  // A non-finite step changes nothing: the run loop decides (--on-nonfinite).
  if (!std::isfinite(norm) || !std::isfinite(loss_sum)) return loss_sum / over;
  clip_to(model.grads, norm, opt.adamw.clip_norm);
  adam.step(model.params, model.grads, schedule.at(step), step + 1);
  if (trace && trace->enabled())
    trace->complete("optimizer", "compute", rank, obs::kLaneCompute, t2, trace->now_us() - t2);
  return loss_sum / over;
}

StepResult Replica::run_step(int64_t t, bool checkpoint_after) {
  StepResult res = synchronous_step(*this, t);
  // the training step's memory (before a checkpoint's gathers below, which are counted
  // as comm from then on)
  if (!memory_logged_) {  // --zero: every rank's (their shards differ), a collective
    std::vector<RankMemory> all{memory()};
    if (zero) {
      all.resize(static_cast<size_t>(zero->group().size()));
      const RankMemory mine = all[0];
      comm::allgather_bytes(zero->group(), std::as_bytes(std::span<const RankMemory>(&mine, 1)),
                            std::as_writable_bytes(std::span<RankMemory>(all)));
    }
    if (out) {
      out->message(memory_kinds_line(all));
      out->event(memory_kinds_event(all, to_string(opt.recompute)));
    }
  }
  memory_logged_ = true;
  // ZeRO: every rank takes part in gathering the moments; rank 0 alone saves.
  if (zero && checkpoint_after) zero->gather_moments(gathered_);
  if (zero && zero->stage() == 3 && checkpoint_after) zero->gather_params();
  return res;
}

RankMemory Replica::memory() const {
  RankMemory m = measure_memory(model, adam, zero);
  m.rank = m.dp = rank;
  m.model_floats = model.params.size();
  m.comm += static_cast<double>(gathered_.state_bytes());  // ZeRO-1: the moments gathered to save
  m.workspace += sizeof(int32_t) * static_cast<double>(inputs_.size() + targets_.size());
  return m;
}

std::string Replica::save(int64_t steps) {
  CheckpointData d =
      train_state_data(data.fingerprint(opt), steps, model, zero ? gathered_ : adam,
                       *data.dataset.tokenizer, balance ? balance->state() : nlohmann::json());
  if (data_shift != 0) d.extra["data_shift"] = data_shift;
  if (!opt.checkpoint_background) return save_checkpoint(opt.checkpoint_dir, d, opt.keep_checkpoints);
  if (!writer_) writer_ = std::make_unique<CheckpointWriter>(opt.checkpoint_dir, opt.keep_checkpoints);
  return writer_->submit(d).string();
}

// Rank 0 commits into the supervisor's directory, the peer (peer_snapshot.h) a copy of
// its own bit-identical replica into dir/peer on its node; other ranks keep none.
void Replica::snapshot(int64_t steps, const std::string& dir) {
  if (pieces) {  // ZeRO: every rank its shard (shard_snapshot.h)
    CheckpointData meta = run_checkpoint(steps, model.config(), data.fingerprint(opt), *data.dataset.tokenizer);
    if (balance) meta.extra["balance"] = balance->state();
    if (data_shift != 0) meta.extra["data_shift"] = data_shift;
    pieces->submit(std::move(meta), model.params, adam.m, adam.v);
    return;
  }
  if (out == nullptr && rank != snapshot_peer) return;
  const std::string where = out ? dir : (std::filesystem::path(dir) / "peer").string();
  const CheckpointData d =
      train_state_data(data.fingerprint(opt), steps, model, zero ? gathered_ : adam,
                       *data.dataset.tokenizer, balance ? balance->state() : nlohmann::json());
  if (!snapshots_) snapshots_ = std::make_unique<CheckpointWriter>(where, 1);
  snapshots_->submit(d);
}

void Replica::wait_for_checkpoints() {
  if (writer_) writer_->wait();
  if (snapshots_) snapshots_->wait();
  if (pieces) pieces->wait();
}

std::string Replica::describe() const { return describe_replica(*this); }

std::string Replica::nonfinite_tensor() const {
  if (!zero || !min_over_ranks) return first_nonfinite(model.table().specs(), model.params, model.grads);
  // ZeRO: this rank's shard holds its part of the reduced gradients (and, stage 3, of
  // the parameters); the first over the ranks is the first of the model
  const comm::Shard s = zero->shard();
  const int64_t mine = first_nonfinite_index(model.table().specs(), model.params, model.grads,
                                             s.offset, s.offset + s.count);
  const int64_t first = min_over_ranks(mine < 0 ? INT64_MAX : mine);
  return first == INT64_MAX ? "" : nonfinite_name(model.table().specs(), first);
}

int64_t roll_back_state(const TrainOptions& opt, const nlohmann::json& fingerprint, GPT& model,
                        AdamW& adam, Zero* zero, int64_t failed, int64_t& data_shift) {
  int64_t c = 0;
  if (zero) {  // the whole moments (of this rank's boxes), of which it keeps its shard
    AdamW full(model.shards().param_specs(), model.shards().total(), opt.adamw);
    c = rollback_state(opt.checkpoint_dir, fingerprint, model, full, nullptr);
    zero->load_moments(full);
  } else {
    c = rollback_state(opt.checkpoint_dir, fingerprint, model, adam, nullptr);
  }
  data_shift += failed + 1 - c;  // steps c.. draw the batches after the failed window
  return c;
}

int64_t Replica::rollback(int64_t failed) {
  wait_for_checkpoints();  // rank 0's newest checkpoint committed...
  if (barrier) barrier();  // ...before any rank reads it
  step = roll_back_state(opt, data.fingerprint(opt), model, adam, zero, failed, data_shift);
  return step;
}

TrainSummary run_replica(Replica& r) {
  const bool chief = r.out != nullptr;
  // ZeRO-3: the evaluation's passes gather parameters from every rank, so every rank
  // evaluates (rank 0 logs)
  const bool everyone = r.zero && r.zero->stage() == 3;
  return run_loop(r, r.opt, {r.out, chief || everyone, chief}, r.step, end_step(r.opt, r.step));
}

}  // namespace plait
