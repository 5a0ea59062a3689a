#include "parallel/mesh_worker.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "fault/finite.h"
#include "fault/heartbeat.h"
#include "layout/stages.h"
#include "parallel/group_min.h"
#include "parallel/memory_report.h"
#include "parallel/mesh_state.h"
#include "parallel/train_state.h"
#include "util/error.h"
#include "util/pages.h"

namespace plait {
namespace {

using Clock = std::chrono::steady_clock;
using comm::Group;

// p2p tags on the pp group: one per micro-batch and direction.
uint64_t tag_of(int micro, bool forward) { return 2 * static_cast<uint64_t>(micro) + (forward ? 0 : 1); }

std::span<const std::byte> bytes_of(const float* p, size_t n) {
  return std::as_bytes(std::span<const float>(p, n));
}
std::span<std::byte> bytes_of(float* p, size_t n) {
  return std::as_writable_bytes(std::span<float>(p, n));
}

MeshShape mesh_shape(const TrainOptions& opt) { return {opt.effective_dp(), opt.tp, opt.pp}; }

// Blocks [begin, end) of pipeline stage `s`.
ShardLayout layout_of(const TrainOptions& opt, const MeshCoord& me) {
  const std::vector<int> sizes = stage_sizes(opt.stages, opt.model.layers, opt.pp);
  const int begin = first_block(sizes, me.pp);
  return {opt.tp, me.tp, begin, begin + sizes[me.pp], me.pp == 0, me.pp == opt.pp - 1};
}

TensorSplit make_split(Group& tp, int tp_rank) {
  TensorSplit s;
  s.adds_bias = tp_rank == 0;
  if (tp.size() > 1) {
    std::shared_ptr<comm::Allreduce> ar = comm::make_allreduce(tp, {comm::Algorithm::ring});
    s.allreduce = [ar](float* p, size_t n) { ar->run(std::span<float>(p, n)); };
  }
  return s;
}

}  // namespace

MeshWorker::MeshWorker(comm::Comm& c, const TrainOptions& o, const RunData& d)
    : opt(o),
      data(d),
      shape(mesh_shape(o)),
      rank(c.rank()),
      me(mesh_coord(shape, c.rank())),
      world(c.world()),
      groups(make_mesh_groups(world, shape)),
      model(o.model, layout_of(o, me), make_split(groups.tp, me.tp)),
      adam(model.shards().param_specs(), model.shards().total(), o.adamw),
      schedule(o.lr_schedule()),
      kind_(o.schedule),
      gathered_(std::span<const ParamSpec>{}, 0, o.adamw) {
  model.set_recompute(o.recompute);
  if (o.pp > 1) micro_batches_ = o.micro_batches > 0 ? o.micro_batches : o.pp;
  set_share(int64_t{me.dp} * (o.batch / shape.dp), o.batch / shape.dp);
  const int nodes = groups.dp.node_count();
  sync = choose_sync(o.sync, shape.dp, nodes);
  if (shape.dp > 1 && o.zero == 0) {
    comm::AllreduceOptions ao;
    ao.algorithm = sync.algorithm;
    dp_ar_ = comm::make_allreduce(groups.dp, ao);
  }
  if (o.memory_snapshot_every > 0 && !o.memory_snapshot_dir.empty())  // collective (a dup)
    pieces_ = std::make_unique<ShardSnapshots>(world, groups.dp, model.shards().total(),
                                               piece_layout(o, world.size()), o.memory_snapshot_dir);
  if (!o.checkpoint_dir.empty() && o.checkpoint_background) {
    writers_ = world.dup("checkpoint-writers");  // collective: every rank, here
    ShardWriter w{rank, world.size(), [g = writers_]() mutable { comm::barrier(g); }};
    writer_ = std::make_unique<CheckpointWriter>(o.checkpoint_dir, o.keep_checkpoints, std::move(w));
  }
}

void MeshWorker::set_share(int64_t first_seq, int64_t count) {
  first_seq_ = first_seq;
  share_ = count;
  if (opt.pp == 1 && opt.micro_batch > 0)
    micro_batches_ = static_cast<int>(std::max<int64_t>(1, (share_ + opt.micro_batch - 1) / opt.micro_batch));
  mb_ = std::max<int64_t>(1, (share_ + micro_batches_ - 1) / micro_batches_);
  const size_t rows = static_cast<size_t>(mb_) * opt.model.ctx;
  if (rows <= inputs_.size() && (first() || bwd_bufs_.size() >= static_cast<size_t>(micro_batches_)))
    return;
  inputs_.resize(std::max(rows, inputs_.size()));
  targets_.resize(inputs_.size());
  recv_.resize(inputs_.size() * opt.model.dim);
  if (!first()) bwd_bufs_.assign(micro_batches_, std::vector<float>(recv_.size()));
}

// Loads or initialises the state; under --zero then keeps this rank's shard of the
// moments. Collective over the dp group (Group::dup).
void MeshWorker::start() {
  step = -1;
  if (pieces_ && opt.resume)  // from the ranks' memory when it is newer than the disk
    step = restore_pieces(*pieces_, opt, data.fingerprint(opt), model, adam, resumed_extra, rank == 0);
  if (step < 0) step = start_state(opt, data.fingerprint(opt), model, adam, &resumed_extra);
  if (resumed_extra.is_object()) data_shift = resumed_extra.value("data_shift", int64_t{0});
  if (opt.zero == 0) return;
  std::vector<ArenaRange> counted;  // the norm counts each float of a replica once
  for (const ShardSpec& s : model.shards().specs())
    if (s.owner) counted.push_back({s.local.offset, s.local.offset + s.local.size});
  zero_ = std::make_unique<Zero>(opt.zero, groups.dp.dup("zero"), model.shards().total(), adam,
                                 world, std::move(counted));
  if (opt.zero == 3) {
    zero_->bind_params(model.params);
    zero_->shard_params();
    model.set_param_gate(zero_.get());
  }
}

MeshWorker::~MeshWorker() { model.set_param_gate(nullptr); }

size_t MeshWorker::parameter_bytes() const { return pages::resident_bytes(model.params); }

void MeshWorker::gather_params() {
  if (!zero_ || zero_->stage() != 3) return;
  model.set_param_gate(nullptr);
  zero_->gather_params();
}

void MeshWorker::traced(const char* what, int micro, const char* cat, int lane, double t0) {
  if (!trace || !trace->enabled()) return;
  const std::string name = micro < 0 ? what : std::string(what) + " " + std::to_string(micro);
  trace->complete(name, cat, rank, lane, t0, trace->now_us() - t0);
}

// Forward of one micro-batch: tokens in on the first stage, the activation from the
// previous stage otherwise; the output goes on to the next stage (a send that must
// complete before the slot holding it is freed by the backward pass).
double MeshWorker::forward_op(int micro) {
  const int b = micro_size(micro), T = opt.model.ctx;
  const size_t n = static_cast<size_t>(b) * T * opt.model.dim;
  if (first() || last())
    data.sampler.fill(step + data_shift, first_seq_ + int64_t{micro} * mb_, b, inputs_.data(), targets_.data());
  if (!first()) groups.pp.recv(me.pp - 1, tag_of(micro, true), bytes_of(recv_.data(), n));
  const double t0 = trace ? trace->now_us() : 0;
  const auto c0 = Clock::now();
  const balance::WorkStart w0(balance::slowdown_at(opt.slowdowns, rank, step));  // --slowdown
  const double loss = model.forward(micro, b, T, inputs_.data(), recv_.data(),
                                    last() ? targets_.data() : nullptr);
  balance::throttle(w0);
  const double dt = std::chrono::duration<double>(Clock::now() - c0).count();
  busy_s += dt;
  fwd_s += dt;
  ++fwd_n;
  traced("forward", micro, "compute", obs::kLaneCompute, t0);
  if (!last())
    fwd_sends_[micro] = groups.pp.isend(me.pp + 1, tag_of(micro, true),
                                        bytes_of(model.output(micro), n));
  return loss;
}

void MeshWorker::backward_op(int micro) {
  const int b = micro_size(micro), T = opt.model.ctx;
  const size_t n = static_cast<size_t>(b) * T * opt.model.dim;
  if (!last()) groups.pp.recv(me.pp + 1, tag_of(micro, false), bytes_of(recv_.data(), n));
  if (auto it = fwd_sends_.find(micro); it != fwd_sends_.end()) {
    groups.pp.wait(it->second);
    fwd_sends_.erase(it);
  }
  const double t0 = trace ? trace->now_us() : 0;
  const auto c0 = Clock::now();
  const balance::WorkStart w0(balance::slowdown_at(opt.slowdowns, rank, step));  // --slowdown
  const float* dx = model.backward(micro, last() ? nullptr : recv_.data());
  balance::throttle(w0);
  const double dt = std::chrono::duration<double>(Clock::now() - c0).count();
  busy_s += dt;
  bwd_s += dt;
  ++bwd_n;
  traced("backward", micro, "compute", obs::kLaneCompute, t0);
  if (first()) return;
  std::vector<float>& buf = bwd_bufs_[micro];
  std::copy(dx, dx + n, buf.begin());
  bwd_sends_.push_back(groups.pp.isend(me.pp - 1, tag_of(micro, false), bytes_of(buf.data(), n)));
}

void MeshWorker::finish_sends() {
  for (auto& [m, req] : fwd_sends_) groups.pp.wait(req);
  fwd_sends_.clear();
  for (auto& req : bwd_sends_) groups.pp.wait(req);
  bwd_sends_.clear();
}

// This stage's micro-batches in schedule order; returns the token-loss sum (last stage).
double MeshWorker::run_schedule() {
  const auto t0 = Clock::now();
  double loss = 0;
  for (const PipeOp& op : pipeline_schedule(kind_, me.pp, shape.pp, micro_batches_)) {
    if (op.forward) loss += forward_op(op.micro);
    else backward_op(op.micro);
  }
  finish_sends();
  pipeline_s += std::chrono::duration<double>(Clock::now() - t0).count();
  return loss;
}

// sqrt of the sum of squares of every gradient float of the model, each counted once.
double MeshWorker::global_grad_norm() {
  double sq = 0;
  for (const ShardSpec& s : model.shards().specs()) {
    if (!s.owner) continue;
    const float* g = model.grads.data() + s.local.offset;
    for (size_t i = 0; i < s.local.size; ++i) sq += static_cast<double>(g[i]) * g[i];
  }
  if (groups.mp.size() > 1) comm::allreduce(groups.mp, std::span<double>(&sq, 1));
  return std::sqrt(sq);
}

// Zero::step: the dp reduce-scatter, the loss and norm over the world, the shard's
// update, the dp allgather. Returns the mean loss.
double MeshWorker::zero_update(double loss, double& norm) {
  const double t0 = trace ? trace->now_us() : 0;
  double sum = last() && me.tp == 0 ? loss : 0.0;
  norm = zero_->step(model.params, model.grads, sum, opt.batch, schedule.at(step), step + 1);
  traced("zero update", -1, "comm", obs::kLaneCompute, t0);
  return sum / opt.model.ctx / opt.batch;
}

// This rank's boxes as parameter specs (full tensors' names, local offsets).
static std::vector<ParamSpec> local_specs(const ShardTable& t) {
  std::vector<ParamSpec> out;
  for (const ShardSpec& s : t.specs()) out.push_back(s.local);
  return out;
}

void MeshWorker::inject_nan(std::vector<float>& grads) {
  if (!nan_injected_) nan_injected_ = inject_nan_for_test(local_specs(model.shards()), step, grads);
}

std::string MeshWorker::nonfinite_tensor() const {
  const std::vector<ParamSpec> full = ParamTable(opt.model).specs();
  const auto n = static_cast<int64_t>(full.size());
  size_t lo = 0, hi = model.params.size();
  if (zero_) lo = zero_->shard().offset, hi = lo + zero_->shard().count;
  int64_t mine = INT64_MAX;
  for (const ShardSpec& s : model.shards().specs()) {
    if (!s.owner) continue;
    const std::vector<ParamSpec> one{s.local};
    const int64_t k = first_nonfinite_index(one, model.params, model.grads, lo, hi);
    if (k < 0) continue;
    int64_t i = 0;
    while (i < n && full[i].name != s.local.name) ++i;
    mine = std::min(mine, (k == 0 ? 0 : n) + i);
  }
  // the group is not changed by a collective; the runner's interface is const
  const int64_t first = min_over(const_cast<comm::Group&>(world), mine);
  return first == INT64_MAX ? "" : nonfinite_name(full, first);
}

double MeshWorker::train_step(double& norm) {
  if (zero_) zero_->zero_grads(model.grads);
  else model.zero_grads();
  if (zero_ && zero_->stage() == 3) zero_->shard_params();  // after a checkpoint's gather
  double t0 = trace ? trace->now_us() : 0;
  const auto c0 = Clock::now();
  double loss = run_schedule();
  timing.compute_s = std::chrono::duration<double>(Clock::now() - c0).count();
  const auto w0 = Clock::now();
  if (groups.embed.valid()) {  // the tied wte: embedding gradient + head gradient
    const ParamSpec& wte = model.shards().wte().local;
    comm::allreduce(groups.embed, std::span<float>(model.grads.data() + wte.offset, wte.size));
  }
  if (zero_) {  // the reduction, the loss and norm, the update and the allgather
    inject_nan(model.grads);
    const double mean = zero_update(loss, norm);
    timing.wait_s = std::chrono::duration<double>(Clock::now() - w0).count();
    return mean;
  }
  if (dp_ar_) {
    t0 = trace ? trace->now_us() : 0;
    dp_ar_->run(std::span<float>(model.grads));
    traced("dp allreduce", -1, "comm", obs::kLaneComm, t0);
  }
  timing.wait_s = std::chrono::duration<double>(Clock::now() - w0).count();
  // the global token-loss sum: the last stage's tp rank 0 of every replica holds a part
  double sum = last() && me.tp == 0 ? loss : 0.0;
  comm::allreduce(world, std::span<double>(&sum, 1));
  t0 = trace ? trace->now_us() : 0;
  const float inv_batch = 1.0f / static_cast<float>(opt.batch);
  for (float& g : model.grads) g *= inv_batch;
  inject_nan(model.grads);
  norm = global_grad_norm();
  // A non-finite step changes nothing: the run loop decides (--on-nonfinite). The norm
  // and the loss sum are the same on every rank, so every rank skips alike.
  if (!std::isfinite(norm) || !std::isfinite(sum)) return sum / opt.model.ctx / opt.batch;
  clip_to(model.grads, norm, opt.adamw.clip_norm);
  adam.step(model.params, model.grads, schedule.at(step), step + 1);
  traced("optimizer", -1, "compute", obs::kLaneCompute, t0);
  return sum / opt.model.ctx / opt.batch;
}

StepResult MeshWorker::run_step(int64_t t, bool checkpoint_after) {
  StepResult res = synchronous_step(*this, t);
  if (!memory_logged_) {  // every rank: the gather is collective
    memory_logged_ = true;
    std::vector<RankMemory> all(world.size());
    const RankMemory mine = memory();
    comm::allgather_bytes(world, std::as_bytes(std::span<const RankMemory>(&mine, 1)),
                          std::as_writable_bytes(std::span<RankMemory>(all)));
    if (out) {
      out->message(memory_kinds_line(all));
      out->event(memory_kinds_event(all, to_string(opt.recompute)));
    }
  }
  // --zero: every rank of the dp group takes part; the dp rank 0 saves
  if (zero_ && checkpoint_after) zero_->gather_moments(gathered_);
  if (zero_ && zero_->stage() == 3 && checkpoint_after) zero_->gather_params();
  return res;
}

std::string MeshWorker::describe() const {
  return "training a " + std::to_string(ParamTable(opt.model).total()) + "-parameter model on " +
         data.dataset.name;
}

// The validation windows, split over the replicas, forward through the pipeline.
double MeshWorker::validation_loss() {
  const int T = opt.model.ctx;
  const int64_t n = std::min<int64_t>(data.val.count(), opt.eval_windows);
  // ZeRO-3: the forward passes gather parameters over the dp group, so its ranks run
  // the same passes: each evaluates every window, the dp rank 0's sum counts
  const bool everyone = zero_ && zero_->stage() == 3;
  const int64_t begin = everyone ? 0 : n * me.dp / shape.dp;
  const int64_t end = everyone ? n : n * (me.dp + 1) / shape.dp;
  const int64_t eb = std::max<int64_t>(1, mb_);
  std::vector<int32_t> in(static_cast<size_t>(eb) * T), tg(in.size());
  double sum = 0;
  int micro = 0;
  for (int64_t w = begin; w < end; w += eb, ++micro) {
    const int b = static_cast<int>(std::min(eb, end - w));
    const size_t floats = static_cast<size_t>(b) * T * opt.model.dim;
    if (first() || last()) data.val.fill(w, b, in.data(), tg.data());
    if (!first()) groups.pp.recv(me.pp - 1, tag_of(micro, true), bytes_of(recv_.data(), floats));
    sum += model.forward(micro, b, T, in.data(), recv_.data(), last() ? tg.data() : nullptr);
    if (!last()) groups.pp.send(me.pp + 1, tag_of(micro, true), bytes_of(model.output(micro), floats));
    model.release(micro);
    fault::Heartbeats::progress();
  }
  if (!(last() && me.tp == 0) || (everyone && me.dp != 0)) sum = 0;
  comm::allreduce(world, std::span<double>(&sum, 1));
  return n > 0 ? sum / static_cast<double>(n * T) : 0.0;
}

std::string MeshWorker::save(int64_t s) {
  CheckpointData d = stage_state_data(data.fingerprint(opt), s, model, zero_ ? gathered_ : adam,
                                      me.dp == 0, *data.dataset.tokenizer,
                                      balance ? balance->state() : nlohmann::json());
  if (data_shift != 0) d.extra["data_shift"] = data_shift;
  if (writer_) return writer_->submit(d).string();
  const ShardWriter w{rank, world.size(), [this] { comm::barrier(world); }};
  return save_checkpoint(opt.checkpoint_dir, d, opt.keep_checkpoints, w).string();
}


int64_t MeshWorker::rollback(int64_t failed) {
  wait_for_checkpoints();
  comm::barrier(world);  // the newest checkpoint is committed before any rank reads it
  step = roll_back_state(opt, data.fingerprint(opt), model, adam, zero_.get(), failed, data_shift);
  return step;
}

// The piece of the arena this rank keeps (its ZeRO shard's moments are all it has).
void MeshWorker::snapshot(int64_t steps, const std::string&) {
  if (!pieces_) return;
  CheckpointData meta = run_checkpoint(steps, model.config(), data.fingerprint(opt), *data.dataset.tokenizer);
  if (balance) meta.extra["balance"] = balance->state();
  if (data_shift != 0) meta.extra["data_shift"] = data_shift;
  pieces_->submit(std::move(meta), model.params, adam.m, adam.v);
}

// A sharded commit ends with a barrier of every rank's writer, so this rank's write
// being done means the checkpoint is committed for every rank.
void MeshWorker::wait_for_checkpoints() {
  if (writer_) writer_->wait();
  if (pieces_) pieces_->wait();
}

size_t MeshWorker::optimizer_bytes() const {
  return zero_ ? zero_->optimizer_bytes() : 2 * model.shards().total() * sizeof(float);
}

size_t MeshWorker::gradient_bytes() const { return pages::resident_bytes(model.grads); }

RankMemory MeshWorker::memory() const {
  RankMemory m = measure_memory(model, adam, zero_.get());
  m.rank = rank, m.dp = me.dp, m.tp = me.tp, m.pp = me.pp;
  m.param_floats = model.shards().total();
  m.model_floats = ParamTable(opt.model).total();
  m.peak_micro_batches = model.peak_in_flight();
  m.activation_floats = model.slot_floats(static_cast<int>(mb_), opt.model.ctx);
  // the pipeline's messages: the received activation or gradient, each micro-batch's d(x)
  double msg = static_cast<double>(recv_.size());
  for (const auto& b : bwd_bufs_) msg += static_cast<double>(b.size());
  m.comm += sizeof(float) * msg;
  m.workspace += sizeof(int32_t) * static_cast<double>(inputs_.size() + targets_.size());
  return m;
}

std::string MeshWorker::layout_line() const {
  const std::vector<int> sizes = stage_sizes(opt.stages, opt.model.layers, opt.pp);
  std::string st;
  for (int s : sizes) {
    if (!st.empty()) st += ',';
    st += std::to_string(s);
  }
  char buf[400];
  std::snprintf(buf, sizeof buf,
                "layout dp%d x tp%d x pp%d on %d workers: stages of %s blocks, %d micro-batch%s "
                "of %lld sequences per replica (%s)",
                shape.dp, shape.tp, shape.pp, shape.world(), st.c_str(), micro_batches_,
                micro_batches_ == 1 ? "" : "es", static_cast<long long>(mb_),
                to_string(kind_));
  return buf;
}

}  // namespace plait
