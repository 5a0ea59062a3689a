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
//   ready(o)     hands over every bucket whose begin >= o, in index order;
//   finish       hands over the rest (ready(0)), waits until the comm thread has
//                reduced them all, then allreduces the loss sum on the main thread.
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
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

#include "comm/collectives.h"
#include "comm/group.h"
#include "obs/trace.h"
#include "parallel/replica.h"
#include "util/ordered_worker.h"

namespace plait {

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
                obs::Trace* trace, int rank);
  ~BucketReducer() override;
  BucketReducer(const BucketReducer&) = delete;
  BucketReducer& operator=(const BucketReducer&) = delete;

  void begin_step(std::vector<float>& grads) override;
  void ready(size_t offset) override;
  double finish(double loss_sum) override;
  // ZeRO-2/3 with several micro-batches per step (every rank as many): reduce each
  // micro-batch's gradients to their owners, so that between micro-batches a rank holds
  // only its shard (the owner's shard accumulates the reduced sums).
  void reduce_each_micro_batch(bool on) { each_micro_batch_ = on; }
  bool reduces_each_micro_batch() const override { return each_micro_batch_; }
  void next_round() override;

  size_t buckets() const { return buckets_.size(); }
  double wait_s() const { return wait_s_; }  // time finish() spent waiting, all steps
  const GradResidency& residency() const { return residency_; }  // ZeRO-2/3

 private:
  void wait_all();  // hands over every bucket, waits until all are reduced
  void reduce(size_t i);  // on the comm thread
  void sample_residency();  // ZeRO-2: the arena's resident bytes into residency_

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

  size_t handed_ = 0;  // buckets handed to the comm thread this round
  OrderedWorker<size_t> comm_;  // the comm thread, reducing buckets by index; last:
                                // starts once everything above exists
};

}  // namespace plait
