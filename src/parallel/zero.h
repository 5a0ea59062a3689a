// ZeRO for the data-parallel axis (docs/MEMORY.md). Every rank of the data-parallel
// group owns the contiguous shard comm::shard_of(total, D, rank) of its arena (the
// whole model's, or its (tp, pp) coordinate's) and keeps AdamW's moments of that shard
// only. Stage 1 keeps full gradients and parameters; stages 2 and 3 also keep only the
// shard's reduced gradients, stage 3 only the shard's parameters too (the model's
// ParamGate, below). Under data parallelism a BucketReducer over owned_buckets
// (grad_buckets.h) sums each bucket on its owner while the backward pass runs (every
// stage); at stages 2 and 3 the other ranks then release its pages (util/pages.h).
//
// Per step, after the backward pass:
//   1. ring reduce-scatter of the gradient sums, the rank's shard then holds the
//      global sums (the rest of its gradient arena is scratch from then on); with
//      buckets (data parallelism): already done during the backward pass, bucket
//      by bucket, in the same order of additions; without (the model-parallel mesh,
//      whose schedule ends before any reduction): here, and at stage 2 the pages
//      outside the shard are released after it;
//   2. the shard is divided by the global batch; the global gradient norm is the
//      square root of the shards' sums of squares over the ranges counted once
//      (`counted`: every float of a replica has one owner), allreduced in doubles over
//      `norm_group` together with the loss;
//   3. the shard is clipped and stepped by AdamW with the shard's moments;
//   4. ring allgather of the parameters over the data-parallel group (not stage 3:
//      each rank keeps its shard, the passes gather each unit as they go).
// The sums are added in the ring's order, not the bucketed allreduce's, so a ZeRO run
// equals the plain one within rounding (1e-5), not bit for bit; stages 1 and 2 are
// equal bit for bit; runs are deterministic, so a resumed run repeats the
// uninterrupted one exactly. Checkpoints stay layout-free: the moments are gathered
// for a save.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

#include "comm/collectives.h"
#include "comm/group.h"
#include "model/adamw.h"
#include "model/gpt.h"
#include "util/ordered_worker.h"
#include "util/page_pool.h"

namespace plait {

// An arena range [first, second) of floats.
using ArenaRange = std::pair<size_t, size_t>;

class Zero final : public ParamGate {
 public:
  // Collective set-up over `group` (the data-parallel ranks) for an arena of `total`
  // floats; drops the moments outside this rank's shard from `adam` (which holds the
  // full moments, fresh or loaded from a checkpoint of any layout). `norm_group`
  // (invalid: `group`) sums the loss and the squares; `counted` (empty: the whole
  // arena) are the ranges the norm counts.
  // `bucketed`: the gradients arrive reduced on their owners (a BucketReducer over
  // owned_buckets during the backward pass); otherwise step() reduce-scatters them
  // and, stages 2 and 3, releases the pages outside the shard afterwards.
  Zero(int stage, comm::Group group, size_t total, AdamW& adam, comm::Group norm_group = {},
       std::vector<ArenaRange> counted = {}, bool bucketed = false);
  int stage() const { return stage_; }
  comm::Shard shard() const { return shard_; }
  // Steps 1-4 above on the gradient sums `grads`; returns the global norm before
  // clipping and turns `loss_sum` (this rank's contribution) into the global sum.
  double step(std::span<float> params, std::span<float> grads, double& loss_sum,
              int64_t batch, float lr, int64_t t);
  // Stage 2: zeroes the shard (the rest of the arena is released, so zero already).
  // Stage 1: zeroes everything.
  void zero_grads(std::span<float> grads) const;
  // Stage 2, once at set-up: releases the pages of `grads` outside the shard.
  void release_unowned(std::span<float> grads) const;
  // Collective: the full moments (every rank's shard), for a checkpoint.
  void gather_moments(AdamW& full);
  // Keeps this rank's shard of `full` (whole moments loaded from a checkpoint:
  // --on-nonfinite rollback) as its moments.
  void load_moments(const AdamW& full);

  // Stage 3. The parameters outside the shard are released (shard_params, at set-up
  // and after a gather) and each unit a pass uses is gathered from its owners (one
  // broadcast per owner of part of it, collective over the group) and released after.
  // A unit the pass hinted (prefetch) is gathered ahead by a communication thread on a
  // group of its own while the current unit computes, and acquire waits for it; an
  // unhinted one (the first of each pass) is gathered by acquire itself. Hinted units
  // are gathered in hint order and must be acquired in that order (every rank of the
  // group hints and acquires the same units in the same order: their passes are the
  // same). During a pass a rank holds its shard, the unit in use and the next one.
  // gather_params: collective, the whole arena (a checkpoint, the end of a run).
  void acquire(size_t begin, size_t end) override;
  void release(size_t begin, size_t end) override;
  void prefetch(std::span<const ArenaRange> next) override;
  // `units` (not empty): the units the passes gather, in forward order, each as its
  // ranges; their gathered floats outside the shard then live in pages a PagePool
  // (util/page_pool.h) lends at the gather and takes back at the release, instead of
  // pages faulted in and released each time: one slot of the largest unit's bytes per
  // window (a range's part below or above the shard that holds a whole page), as many
  // reserved at once as the two consecutive units with the most windows have (a pass
  // holds the unit in use and the one hinted after it), so its bytes do not depend on
  // when the prefetch lands (plan::zero_pools predicts them).
  using Units = std::vector<std::vector<ArenaRange>>;
  void bind_params(std::span<float> params, const Units& units = {});
  size_t pool_bytes() const { return pool_ ? pool_->bytes() : 0; }
  void shard_params();
  void gather_params();
  ~Zero() override;
  Zero(const Zero&) = delete;
  Zero& operator=(const Zero&) = delete;
  size_t gathered_floats() const;  // received for units, all steps
  // The most of the parameter arena resident (bytes), sampled after each unit's gather.
  size_t parameter_peak_bytes() const;
  // This rank's optimizer bytes (m and v of its shard).
  size_t optimizer_bytes() const { return 2 * shard_.count * sizeof(float); }
  comm::Group& group() { return group_; }  // the data-parallel ranks (training thread)

  // What this rank holds of its arenas, in bytes (docs/MEMORY.md "Memory by kind";
  // memory_report.h reports them): `params` and `grads` are what is resident of the
  // arenas now (mincore) where the stage shards them (stage 3 the parameters, stages
  // 2 and 3 the gradients: between steps the shard plus the pages at its edges), else
  // the whole arena; `gathered` (stage 3) the most floats of gathered units outside the
  // shard held at once during a pass: the unit in use and the one hinted after it,
  // counted from the hint on, so the figure does not depend on when the communication
  // thread's gather lands (the bound the memory plan must leave room for); where the
  // units live in a page pool (bind_params), the pool's bytes instead (its slots hold
  // them, and between steps it keeps them).
  // `grad_pool` and `param_pool`: the page pools' bytes (their slots, lent or free;
  // zero without pools): the gradient buckets' (count_gradient_pool) and the units'.
  struct Held {
    double params = 0, grads = 0, gathered = 0, grad_pool = 0, param_pool = 0;
  };
  Held held(std::span<const float> params, std::span<const float> grads) const;
  // Where held() reads the gradient pool's bytes (the BucketReducer's pools).
  void count_gradient_pool(std::function<size_t()> bytes) { grad_pool_bytes_ = std::move(bytes); }

 private:
  int stage_;
  bool bucketed_;
  comm::Group group_, norm_group_;
  AdamW& adam_;
  size_t total_;
  comm::Shard shard_;
  std::vector<ArenaRange> counted_;  // within the shard
  std::span<float> params_;          // stage 3: the arena the gate serves
  bool whole_ = false;  // stage 3: gather_params() ran, shard_params() not yet

  // Stage 3: one unit range from its owners over `g`; returns the floats received.
  size_t gather(comm::Group& g, size_t begin, size_t end);
  void gathered(size_t floats);  // counts them, samples the residency (m_ held)
  size_t outside(size_t begin, size_t end) const;  // floats of [begin, end) not in the shard
  size_t windows(const std::vector<ArenaRange>& unit) const;  // its lendable parts outside
  void hold(size_t begin, size_t end);             // training thread: held_ and its peak
  void lend_unowned(size_t begin, size_t end);  // stage 3 with a pool: before a gather
  void free_range(size_t begin, size_t end);    // back to the pool, or released
  std::unique_ptr<PagePool> pool_;
  std::function<size_t()> grad_pool_bytes_;

  comm::Group prefetch_group_;  // stage 3: used by the communication thread only
  mutable std::mutex m_;        // the counts below, written by both threads
  size_t gathered_floats_ = 0, peak_bytes_ = 0;
  // Training thread only: floats outside the shard of the units acquired or hinted and
  // not yet released, and their most at once (Held::gathered); the hinted ranges not
  // yet acquired.
  size_t held_ = 0, held_peak_ = 0;
  size_t hinted_ = 0;
  // Stage 3: the communication thread, gathering the hinted ranges in hint order; the
  // first failed gather stops it and every later acquire of a hinted range rethrows it.
  // Last: its thread starts once everything above exists, and stops first.
  std::unique_ptr<OrderedWorker<ArenaRange>> prefetcher_;
};

}  // namespace plait
