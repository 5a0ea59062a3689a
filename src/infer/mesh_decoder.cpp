#include "infer/mesh_decoder.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <thread>

#include "comm/collectives.h"
#include "comm/latency_allreduce.h"
#include "layout/stages.h"
#include "util/error.h"

namespace plait::infer {

struct MeshDecoder::Pending {
  std::vector<std::byte> buf;
  comm::Request req;
};

namespace {

constexpr size_t kMaxPending = 64;  // > 3 messages x groups in flight: waits never block

ShardLayout shard_layout(const GPTConfig& cfg, const MeshLayout& m, const MeshCoord& me) {
  check_model_split(cfg.layers, cfg.dim, cfg.heads, m.tp, m.pp, m.stages);
  const std::vector<int> sizes = stage_sizes(m.stages, cfg.layers, m.pp);
  const int begin = first_block(sizes, me.pp);
  return {m.tp, me.tp, begin, begin + sizes[me.pp], me.pp == 0, me.pp == m.pp - 1};
}

// The tensor group's allreduce: a pass's rows are a few KB (one row of C floats per
// sequence when decoding), so latency is the cost (comm/latency_allreduce.h). Up to
// kSharedFloats floats go through memory the threads share; a bigger pass (a long
// prompt's prefill) through one exchange of messages.
constexpr size_t kSharedFloats = size_t(1) << 16;

TensorSplit tensor_split(std::shared_ptr<comm::LatencyAllreduce> ar, int tp_rank) {
  TensorSplit s;
  s.adds_bias = tp_rank == 0;
  if (ar) s.allreduce = [ar](float* p, size_t n) { ar->run(p, n); };
  return s;
}

// [slot, pos, n] per feed, then every feed's tokens.
std::vector<int32_t> pack(std::span<const Feed> feeds) {
  std::vector<int32_t> m;
  for (const Feed& f : feeds) m.insert(m.end(), {f.slot, f.pos, int32_t(f.tokens.size())});
  for (const Feed& f : feeds) m.insert(m.end(), f.tokens.begin(), f.tokens.end());
  return m;
}

std::vector<Feed> unpack(const std::vector<int32_t>& m, int F) {
  std::vector<Feed> feeds(F);
  size_t tok = 3 * size_t(F);
  for (int i = 0; i < F; ++i) {
    const size_t n = m[3 * i + 2];
    feeds[i] = {m[3 * i], std::span<const int32_t>(m.data() + tok, n), m[3 * i + 1]};
    tok += n;
  }
  return feeds;
}

template <class T>
std::vector<std::byte> bytes_of(std::span<const T> v) {
  const auto b = std::as_bytes(v);
  return {b.begin(), b.end()};
}

}  // namespace

MeshDecoder::MeshDecoder(comm::Comm& c, const GPTConfig& cfg, const MeshLayout& m,
                         std::span<const float> full, int slots)
    : MeshDecoder(c, cfg, m, whole_arena_loader(cfg, full), slots) {}

ShardLoader whole_arena_loader(const GPTConfig& cfg, std::span<const float> full) {
  return [cfg, full](const ShardTable& table, std::span<float> out) {
    const ParamTable whole(cfg);
    if (full.size() != whole.total())
      throw UsageError("model-parallel generation: the parameter arena has " +
                       std::to_string(full.size()) + " floats, the model needs " +
                       std::to_string(whole.total()));
    gather_shard(whole, full, table, out);
  };
}

MeshDecoder::MeshDecoder(comm::Comm& c, const GPTConfig& cfg, const MeshLayout& m,
                         const ShardLoader& load, int slots)
    : world_(c.world()), shape_{1, m.tp, m.pp} {
  if (m.tp < 1 || m.pp < 1) throw UsageError("--tp and --pp must be at least 1");
  if (world_.size() != m.world())
    throw UsageError("model-parallel generation: --tp " + std::to_string(m.tp) + " x --pp " +
                     std::to_string(m.pp) + " needs " + std::to_string(m.world()) +
                     " ranks, the run has " + std::to_string(world_.size()));
  me_ = mesh_coord(shape_, world_.rank());
  const ShardLayout layout = shard_layout(cfg, m, me_);
  tp_ = world_.split(me_.pp, me_.tp, "tp");
  const ShardTable table(cfg, layout);
  params_.resize(table.total());
  load(table, params_);
  groups_ = m.pp;
  if (m.tp > 1) {
    const bool spin = world_.size() <= static_cast<int>(std::thread::hardware_concurrency());
    allreduce_ = std::make_shared<comm::LatencyAllreduce>(tp_, kSharedFloats, spin);
  }
  dec_ = std::make_unique<Decoder>(table, params_, slots, tensor_split(allreduce_, me_.tp));
  local_logits_ = m.pp == 1;
}

MeshDecoder::~MeshDecoder() = default;

double MeshDecoder::allreduce_seconds() const { return allreduce_ ? allreduce_->seconds() : 0; }

void MeshDecoder::post(int peer, std::vector<std::byte> buf) {
  Pending p{std::move(buf), {}};
  p.req = world_.isend(peer, sent_[peer]++ % (world_.max_tag() + 1), p.buf);
  pending_.push_back(std::move(p));
  while (pending_.size() > kMaxPending) {
    world_.wait(pending_.front().req);
    pending_.pop_front();
  }
}

void MeshDecoder::recv(int peer, std::span<std::byte> dst) {
  world_.recv(peer, received_[peer]++ % (world_.max_tag() + 1), dst);
}

void MeshDecoder::drain() {
  for (auto& p : pending_) world_.wait(p.req);
  pending_.clear();
}

// This rank's share of one pass, then its output on to the next stage (or, from the
// last stage's tp rank 0, the logits to rank 0).
void MeshDecoder::run_pass(const int32_t hdr[2], const std::vector<int32_t>& meta,
                           const float* x) {
  const int F = hdr[0], N = hdr[1];
  const std::vector<Feed> feeds = unpack(meta, F);
  const bool last = me_.pp == shape_.pp - 1;
  const bool logits_wanted = last && me_.tp == 0;
  dec_->step(feeds, x, logits_wanted);
  if (!last) {
    const int next = mesh_rank(shape_, {0, me_.tp, me_.pp + 1});
    post(next, bytes_of(std::span<const int32_t>(hdr, 2)));
    post(next, bytes_of(std::span<const int32_t>(meta)));
    post(next, bytes_of(std::span<const float>(dec_->hidden(), size_t(N) * config().dim)));
  } else if (logits_wanted && world_.rank() != 0) {
    post(0, bytes_of(std::span<const float>(dec_->logits(0), size_t(F) * config().padded_vocab())));
  }
}

void MeshDecoder::submit(int group, std::span<const Feed> feeds) {
  if (!leader()) throw UsageError("model-parallel generation: only rank 0 submits passes");
  if (finished_) throw UsageError("model-parallel generation: submit after finish");
  std::vector<int32_t> meta = pack(feeds);
  int32_t hdr[2] = {static_cast<int32_t>(feeds.size()), 0};
  for (const Feed& f : feeds) hdr[1] += static_cast<int32_t>(f.tokens.size());
  if (hdr[0] == 0) throw UsageError("model-parallel generation: a pass needs a feed");
  if (tp_.size() > 1) {
    comm::broadcast(tp_, std::as_writable_bytes(std::span<int32_t>(hdr, 2)), 0);
    comm::broadcast(tp_, std::as_writable_bytes(std::span<int32_t>(meta)), 0);
  }
  run_pass(hdr, meta, nullptr);
  in_flight_.emplace_back(group, hdr[0]);
}

int MeshDecoder::collect() {
  if (in_flight_.empty()) throw UsageError("model-parallel generation: collect without a pass");
  const auto [g, F] = in_flight_.front();
  in_flight_.pop_front();
  if (!local_logits_) {
    logits_.resize(size_t(F) * config().padded_vocab());
    recv(mesh_rank(shape_, {0, 0, shape_.pp - 1}), std::as_writable_bytes(std::span<float>(logits_)));
  }
  return g;
}

const float* MeshDecoder::logits(int f) const {
  if (local_logits_) return dec_->logits(f);
  return logits_.data() + size_t(f) * config().padded_vocab();
}

void MeshDecoder::follow() {
  if (leader()) throw UsageError("model-parallel generation: rank 0 leads, it does not follow");
  const int prev = me_.pp > 0 ? mesh_rank(shape_, {0, me_.tp, me_.pp - 1}) : -1;
  std::vector<int32_t> meta;
  std::vector<float> x;
  for (;;) {
    int32_t hdr[2];
    const auto hb = std::as_writable_bytes(std::span<int32_t>(hdr, 2));
    if (prev < 0) comm::broadcast(tp_, hb, 0);
    else recv(prev, hb);
    if (hdr[0] < 0) break;
    meta.resize(3 * size_t(hdr[0]) + hdr[1]);
    const auto mb = std::as_writable_bytes(std::span<int32_t>(meta));
    if (prev < 0) {
      comm::broadcast(tp_, mb, 0);
    } else {
      recv(prev, mb);
      x.resize(size_t(hdr[1]) * config().dim);
      recv(prev, std::as_writable_bytes(std::span<float>(x)));
    }
    run_pass(hdr, meta, prev < 0 ? nullptr : x.data());
  }
  send_stop();
  drain();
}

// {F = -1} down this rank's path: to its tensor group (stage 0's rank 0) and to the
// next stage.
void MeshDecoder::send_stop() {
  int32_t stop[2] = {-1, 0};
  if (leader() && tp_.size() > 1)
    comm::broadcast(tp_, std::as_writable_bytes(std::span<int32_t>(stop, 2)), 0);
  if (me_.pp < shape_.pp - 1)
    post(mesh_rank(shape_, {0, me_.tp, me_.pp + 1}), bytes_of(std::span<const int32_t>(stop, 2)));
}

void MeshDecoder::finish() {
  if (!leader() || finished_) return;
  while (!in_flight_.empty()) collect();
  finished_ = true;
  send_stop();
  drain();
}

}  // namespace plait::infer
