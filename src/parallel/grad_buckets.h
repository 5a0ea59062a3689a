// Gradient buckets, reduced on a communication thread while the backward pass runs.
//
// The gradient arena is in forward order, and GPT::backward(on_ready) finishes it from
// the END: ln_f first, then block L-1, ..., block 0, the embeddings last. Buckets are
// therefore cut from the end of the arena, bucket 0 being the last `floats` floats,
// and become ready in index order. Every rank cuts the same buckets and reduces them
// in the same order, one allreduce per bucket on a group of its own (so the main
// thread may run other collectives on the world group meanwhile).
//
// Ordering per step (main thread):  begin_step -> ready(offset)* -> finish
//   begin_step   the comm thread is idle (the previous finish waited for it);
//   ready(o)     hands over every bucket whose begin >= o, in index order, except
//                the last allreduced one (begin 0, ready only when the pass is over);
//   finish       hands over the rest (ready(0)), waits until the comm thread has
//                reduced them all, reduces the last bucket itself (no hand-over to
//                the comm thread and back when nothing is left to overlap: a tiny
//                model's one bucket, or work stealing's whole arena), then allreduces
//                the loss sum on the main thread (finish_gradients: not the loss).
// Between begin_step and finish the main thread writes only gradients below the
// ready offset it last reported, and the comm thread touches only buckets handed over:
// they never share a float.
//
// ZeRO (parallel/zero.h): the buckets are also cut at the shard boundaries, each
// lies in one rank's shard (its owner) and is summed on that rank only
// (comm::reduce, in the ring reduce-scatter's order of additions), overlapping the
// backward pass as the allreduced buckets do. Stage 2 and 3: the other ranks then
// release the bucket's pages (util/pages.h), so between steps a rank's gradient arena
// holds only its shard; stage 1 keeps them (scratch until the next step zeroes them).
// The loss sum is left to the caller (ZeRO's one allreduce of the loss and the norm).
//
// Pooled windows (ZeRO-2/3, BucketPooling): re-faulting the released buckets' pages
// in the next backward pass costs ~10 µs a page here (docs/MEMORY.md), so the other
// ranks' buckets (windows) borrow populated pages from a PagePool (util/page_pool.h)
// instead: the main thread lends a window the pages just before the backward pass
// writes it, the comm thread gives them back once the bucket is reduced. A window may
// be lent only while nothing of this round has been written to it: at the start of a
// pass that opens a round (pass_begins(true)), the windows of the gradients written
// from the start (`early_end`: the tied wte, which the head writes first and the
// embedding last) and those the first unit writes; at ready(o), the windows wholly
// below o (the pass writes top-down) that the next unit (at most `ahead` floats below
// o) writes. At the pool's cap the main thread waits while the comm thread has buckets
// in hand (each may give a slot back), so the pool bounds the pages in use; a window
// not lent in time takes fresh pages as before (correct, only slower). A pass that does
// not open a round (micro-batches accumulated before one reduction) lends nothing.
#pragma once
#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "comm/collectives.h"
#include "comm/group.h"
#include "obs/trace.h"
#include "parallel/replica.h"
#include "util/ordered_worker.h"
#include "util/page_pool.h"

namespace plait {

// ZeRO-2/3: how the released buckets' pages are reused (above); off: not at all
// (released and re-faulted, as before pooling).
struct BucketPooling {
  bool on = false;
  size_t early_end = 0;  // gradients [0, early_end) are written from a pass's start
  size_t ahead = 0;      // the most floats a pass writes between two ready() calls
};

struct Bucket {
  size_t begin = 0, end = 0;  // arena offsets [begin, end)
  int owner = -1;             // ZeRO-2: the rank whose shard holds it; -1: allreduced
};

// Buckets of at most `floats` floats (>= 1) covering [0, total), cut from the end:
// bucket i is [max(0, total - (i+1)*floats), total - i*floats). None when total is 0.
std::vector<Bucket> make_buckets(size_t total, size_t floats);
// make_buckets' buckets cut again at the boundaries of comm::shard_of(total, parts, r),
// each with its owner r; still in index order from the end of the arena.
std::vector<Bucket> owned_buckets(size_t total, size_t floats, int parts);

// What a BucketReducer measures of the gradient arena (ZeRO-2): resident bytes
// (util/pages.h) sampled by the comm thread before and after each release.
struct GradResidency {
  size_t peak = 0;     // the most seen during any step
  size_t between = 0;  // the most seen between two micro-batches (each reduced)
};

class BucketReducer final : public GradSync {
 public:
  // `grads_group` is used only by the comm thread; `loss_group` only by the caller.
  BucketReducer(comm::Group grads_group, comm::Group loss_group, comm::Algorithm algorithm,
                size_t total, size_t bucket_floats, obs::Trace* trace, int rank);
  // ZeRO: owned buckets (owned_buckets) over `grads_group`, whose rank `grads_group
  // .rank()` keeps its shard; `release`: the pages of the others' buckets are released
  // once reduced (stages 2, 3). finish() returns the local loss sum unreduced.
  BucketReducer(comm::Group grads_group, std::vector<Bucket> owned, bool release,
                obs::Trace* trace, int rank, BucketPooling pooling = {});
  ~BucketReducer() override;
  BucketReducer(const BucketReducer&) = delete;
  BucketReducer& operator=(const BucketReducer&) = delete;

  void begin_step(std::vector<float>& grads) override;
  void ready(size_t offset) override;
  double finish(double loss_sum) override;
  void finish_gradients() override;  // finish() without the loss allreduce
  // ZeRO-2/3 with several micro-batches per step (every rank as many): reduce each
  // micro-batch's gradients to their owners, so that between micro-batches a rank holds
  // only its shard (the owner's shard accumulates the reduced sums).
  void reduce_each_micro_batch(bool on) { each_micro_batch_ = on; }
  bool reduces_each_micro_batch() const override { return each_micro_batch_; }
  void next_round() override;
  void pass_begins(bool opens_round) override;

  size_t buckets() const { return buckets_.size(); }
  double wait_s() const { return wait_s_; }  // time finish() spent waiting, all steps
  const GradResidency& residency() const { return residency_; }  // ZeRO-2/3
  // ZeRO-2/3 with pooling: the pools' bytes (their slots, populated; zero without) and
  // the windows they lent, all steps.
  size_t pool_bytes() const { return pool_ ? pool_->bytes() + early_pool_->bytes() : 0; }
  size_t pool_lends() const { return pool_ ? pool_->lends() + early_pool_->lends() : 0; }

 private:
  void wait_all();  // hands over every bucket, waits until all are reduced
  void reduce(size_t i);  // on the comm thread
  void sample_residency();  // ZeRO-2: the arena's resident bytes into residency_
  void lend_ahead(size_t offset);  // main thread: windows below `offset` (above)
  bool lend_or_wait(const Bucket& b);
  void release_shared_page(size_t at);  // comm thread
  std::span<float> window(const Bucket& b) const { return {grads_ + b.begin, b.end - b.begin}; }

  comm::Group grads_group_, loss_group_;
  std::unique_ptr<comm::Allreduce> grads_ar_, loss_ar_;
  std::vector<Bucket> buckets_;
  obs::Trace* trace_;
  int rank_;
  bool owned_ = false;    // ZeRO buckets
  bool release_ = false;  // ZeRO-2/3: release the others' buckets' pages
  bool each_micro_batch_ = false;
  size_t total_ = 0;    // floats in the arena
  GradResidency residency_;
  size_t run_begin_ = 0, run_end_ = 0;  // comm thread: the released run [begin, end)
  float* grads_ = nullptr;
  double wait_s_ = 0;
  BucketPooling pooling_;
  // ZeRO-2/3 with pooling: the early windows' (exact sizes, all lent at a pass's start)
  // and the others' (slots of the largest bucket, as many as the next unit's windows
  // and one more, being reduced; at most one per window; reserved at set-up, so their
  // bytes do not depend on timing: plan::zero_pools predicts them)
  std::unique_ptr<PagePool> pool_, early_pool_;
  PagePool& pool_of(const Bucket& b) { return b.begin < pooling_.early_end ? *early_pool_ : *pool_; }
  bool lending_ = false;  // main thread: this pass may lend at ready()
  size_t next_lend_ = 0;  // main thread: the next bucket lend_ahead considers
  size_t popped_ = 0;     // main thread: reduced buckets lend_or_wait took off comm_

  size_t handed_ = 0;  // buckets handed to the comm thread this round
  OrderedWorker<size_t> comm_;  // the comm thread, reducing buckets by index; last:
                                // starts once everything above exists
};

}  // namespace plait
