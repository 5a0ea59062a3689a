#include "parallel/grad_buckets.h"

#include <algorithm>
#include <chrono>
#include <span>

#include "util/pages.h"

namespace plait {

std::vector<Bucket> make_buckets(size_t total, size_t floats) {
  floats = std::max<size_t>(1, floats);
  std::vector<Bucket> out;
  for (size_t end = total; end > 0;) {
    const size_t begin = end > floats ? end - floats : 0;
    out.push_back({begin, end});
    end = begin;
  }
  return out;
}

std::vector<Bucket> owned_buckets(size_t total, size_t floats, int parts) {
  std::vector<Bucket> out;
  for (const Bucket& b : make_buckets(total, floats)) {
    // the shards [b.begin, b.end) crosses, from the last: owners descend
    for (int r = parts - 1; r >= 0; --r) {
      const comm::Shard s = comm::shard_of(total, parts, r);
      const size_t lo = std::max(b.begin, s.offset), hi = std::min(b.end, s.offset + s.count);
      if (lo < hi) out.push_back({lo, hi, r});
    }
  }
  return out;
}

BucketReducer::BucketReducer(comm::Group grads_group, std::vector<Bucket> owned, bool release,
                             obs::Trace* trace, int rank)
    : grads_group_(std::move(grads_group)),
      buckets_(std::move(owned)),
      trace_(trace && trace->enabled() ? trace : nullptr),
      rank_(rank),
      owned_(true),
      release_(release),
      total_(buckets_.empty() ? 0 : buckets_.front().end),
      comm_([this](const size_t& i) { reduce(i); }) {}

BucketReducer::BucketReducer(comm::Group grads_group, comm::Group loss_group,
                             comm::Algorithm algorithm, size_t total, size_t bucket_floats,
                             obs::Trace* trace, int rank)
    : grads_group_(std::move(grads_group)),
      loss_group_(std::move(loss_group)),
      grads_ar_(comm::make_allreduce(grads_group_, {algorithm})),
      loss_ar_(comm::make_allreduce(loss_group_, {algorithm})),
      buckets_(make_buckets(total, bucket_floats)),
      trace_(trace && trace->enabled() ? trace : nullptr),
      rank_(rank),
      total_(total),
      comm_([this](const size_t& i) { reduce(i); }) {}

BucketReducer::~BucketReducer() = default;

// The comm thread is idle: the previous round's wait_all waited for it.
void BucketReducer::begin_step(std::vector<float>& grads) {
  comm_.clear();
  handed_ = 0;
  grads_ = grads.data();
  run_begin_ = run_end_ = grads.size() + 1;  // no run released yet
}

void BucketReducer::ready(size_t offset) {
  for (; handed_ < buckets_.size() && buckets_[handed_].begin >= offset; ++handed_)
    comm_.push(handed_);
}

void BucketReducer::wait_all() {
  ready(0);
  const auto t0 = std::chrono::steady_clock::now();
  comm_.wait_all();
  wait_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void BucketReducer::next_round() {
  wait_all();  // the comm thread is idle now
  if (release_) {
    const size_t now = pages::resident_bytes(std::span<const float>(grads_, total_));
    residency_.between = std::max(residency_.between, now);
  }
  comm_.clear();
  handed_ = 0;
  run_begin_ = run_end_ = total_ + 1;  // no run released yet in this round
}

double BucketReducer::finish(double loss_sum) {
  wait_all();
  if (owned_) return loss_sum;
  loss_ar_->run(std::span<double>(&loss_sum, 1));
  return loss_sum;
}

void BucketReducer::reduce(size_t i) {
  const Bucket b = buckets_[i];
  const double t0 = trace_ ? trace_->now_us() : 0;
  const std::span<float> g(grads_ + b.begin, b.end - b.begin);
  if (owned_) {
    comm::reduce(grads_group_, g, b.owner);
    if (release_ && b.owner != grads_group_.rank()) {
      sample_residency();  // before the release: the most this bucket adds
      // the run of released buckets this one extends downwards: pages it shares with
      // the bucket released before it are whole now and go too
      if (b.end != run_begin_) run_end_ = b.end;
      run_begin_ = b.begin;
      pages::release(std::span<float>(grads_ + run_begin_, run_end_ - run_begin_));
    }
  } else {
    grads_ar_->run(g);
  }
  if (trace_)
    trace_->complete((owned_ ? "reduce bucket " : "allreduce bucket ") + std::to_string(i),
                     "comm", rank_, obs::kLaneComm,
                     t0, trace_->now_us() - t0,
                     {{"bytes", (b.end - b.begin) * sizeof(float)}});
}

void BucketReducer::sample_residency() {
  const size_t now = pages::resident_bytes(std::span<const float>(grads_, total_));
  residency_.peak = std::max(residency_.peak, now);
}

}  // namespace plait
