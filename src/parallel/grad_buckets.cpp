#include "parallel/grad_buckets.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
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

namespace {

size_t max_bucket_bytes(const std::vector<Bucket>& buckets) {
  size_t most = 0;
  for (const Bucket& b : buckets) most = std::max(most, b.end - b.begin);
  return most * sizeof(float);
}

}  // namespace

BucketReducer::BucketReducer(comm::Group grads_group, std::vector<Bucket> owned, bool release,
                             obs::Trace* trace, int rank, BucketPooling pooling)
    : grads_group_(std::move(grads_group)),
      buckets_(std::move(owned)),
      trace_(trace && trace->enabled() ? trace : nullptr),
      rank_(rank),
      owned_(true),
      release_(release),
      total_(buckets_.empty() ? 0 : buckets_.front().end),
      pooling_(pooling),
      comm_([this](const size_t& i) { reduce(i); }) {
  if (!release || !pooling.on || buckets_.empty()) return;
  // whole pages: the pool cuts its slots up to pages and its cap down to them, so a cap
  // of n slots must be n whole-page slots
  const size_t page = pages::page_bytes();
  const size_t slot = (max_bucket_bytes(buckets_) + page - 1) / page * page + page;
  size_t early = 0, others = 0;  // the early windows' bytes (in pages); the other windows
  for (const Bucket& b : buckets_) {
    if (b.owner == grads_group_.rank()) continue;
    if (b.begin < pooling.early_end) early += ((b.end - b.begin) * sizeof(float) + page - 1) / page * page;
    else ++others;
  }
  // the windows the next unit writes (one may straddle its upper end) and one more, in
  // reduction; never more slots than windows
  const size_t next = (pooling.ahead * sizeof(float) + slot - 1) / slot + 1;
  early_pool_ = std::make_unique<PagePool>(early, /*zeroed=*/true);
  pool_ = std::make_unique<PagePool>(std::min(next + 1, others) * slot, /*zeroed=*/true, slot);
  pool_->reserve();  // its bytes then do not depend on how far the comm thread lags
}

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
  handed_ = popped_ = 0;
  grads_ = grads.data();
  run_begin_ = run_end_ = grads.size() + 1;  // no run released yet
}

void BucketReducer::pass_begins(bool opens_round) {
  lending_ = pool_ && opens_round;
  if (!lending_) return;
  // the comm thread is idle (begin_step or next_round waited) and every window given back
  const int me = grads_group_.rank();
  for (const Bucket& b : buckets_)
    if (b.owner != me && b.begin < pooling_.early_end) early_pool_->lend(window(b));
  next_lend_ = 0;
  lend_ahead(total_);
}

void BucketReducer::lend_ahead(size_t offset) {
  const int me = grads_group_.rank();
  for (; next_lend_ < buckets_.size(); ++next_lend_) {
    const Bucket& b = buckets_[next_lend_];
    if (b.owner == me || b.begin < pooling_.early_end) continue;  // owned; lent at the start
    if (b.end > offset) continue;  // the pass has written it already: fresh pages
    if (b.end + pooling_.ahead <= offset) return;  // not written by the next unit: later
    if (!lend_or_wait(b)) return;  // at the cap: later, if still in time
  }
}

// At the cap, waits while the comm thread has buckets in hand (each it reduces may
// give a slot back; every rank has handed over the oldest of them, so it finishes),
// rather than let the pass fault fresh pages in: the pool bounds the step's peak.
bool BucketReducer::lend_or_wait(const Bucket& b) {
  for (;;) {
    if (pool_->lend(window(b))) return true;
    if (popped_ == handed_) return false;  // nothing will come back: fresh pages
    comm_.pop_done();  // the oldest bucket handed over, reduced (and given back)
    ++popped_;
  }
}

void BucketReducer::ready(size_t offset) {
  // allreduced buckets: the last one (begin 0) is ready only once the backward pass is
  // over, when nothing is left to overlap with: wait_all reduces it on this thread
  const size_t handable = owned_ ? buckets_.size() : buckets_.size() - std::min<size_t>(1, buckets_.size());
  for (; handed_ < handable && buckets_[handed_].begin >= offset; ++handed_)
    comm_.push(handed_);
  if (lending_) lend_ahead(offset);  // after: the buckets just handed over may come back
}

void BucketReducer::wait_all() {
  ready(0);
  const auto t0 = std::chrono::steady_clock::now();
  comm_.wait_all();
  // The buckets not handed over (allreduced: the last), in index order after the comm
  // thread's: every rank reduces the same buckets in the same order on grads_group_,
  // which the comm thread, idle now (the wait synchronised with it), no longer uses.
  for (; handed_ < buckets_.size(); ++handed_) reduce(handed_);
  wait_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void BucketReducer::next_round() {
  wait_all();  // the comm thread is idle now
  if (release_) {
    const size_t now = pages::resident_bytes(std::span<const float>(grads_, total_));
    residency_.between = std::max(residency_.between, now);
  }
  comm_.clear();
  handed_ = popped_ = 0;
  run_begin_ = run_end_ = total_ + 1;  // no run released yet in this round
}

void BucketReducer::finish_gradients() { wait_all(); }

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
      if (pool_) {
        pool_of(b).give_back(g);  // its slot back to the pool, or else its pages released
        release_shared_page(b.end);
      } else {
        pages::release(std::span<float>(grads_ + run_begin_, run_end_ - run_begin_));
      }
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

// The page that holds arena offset `at` and the float before it, when the released run
// covers it whole now (the bucket below `at` was just released, the one above before).
void BucketReducer::release_shared_page(size_t at) {
  const auto ps = static_cast<std::uintptr_t>(pages::page_bytes());
  const auto base = reinterpret_cast<std::uintptr_t>(grads_);
  const auto a = reinterpret_cast<std::uintptr_t>(grads_ + at);
  if (a % ps == 0) return;  // no page straddles `at`
  const std::uintptr_t lo = a / ps * ps, hi = lo + ps;
  if (lo < base) return;
  const size_t first = (lo - base) / sizeof(float), last = (hi - base) / sizeof(float);
  if (first < run_begin_ || last > run_end_) return;  // part of it is still in use
  pages::release(std::span<float>(grads_ + first, last - first));
}

void BucketReducer::sample_residency() {
  const size_t now = pages::resident_bytes(std::span<const float>(grads_, total_));
  residency_.peak = std::max(residency_.peak, now);
}

}  // namespace plait
