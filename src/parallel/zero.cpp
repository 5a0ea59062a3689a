#include "parallel/zero.h"

#include <algorithm>
#include <cmath>

#include "util/pages.h"

namespace plait {

Zero::Zero(int stage, comm::Group group, size_t total, AdamW& adam, comm::Group norm_group,
           std::vector<ArenaRange> counted, bool bucketed)
    : stage_(stage),
      bucketed_(bucketed),
      group_(std::move(group)),
      norm_group_(norm_group.valid() ? std::move(norm_group) : group_),
      adam_(adam),
      total_(total),
      shard_(comm::shard_of(total, group_.size(), group_.rank())) {
  adam_.keep_range(shard_.offset, shard_.count);
  if (counted.empty()) counted.push_back({0, total});
  const size_t lo = shard_.offset, hi = shard_.offset + shard_.count;
  for (const auto& [b, e] : counted)
    if (std::max(b, lo) < std::min(e, hi)) counted_.push_back({std::max(b, lo), std::min(e, hi)});
}

double Zero::step(std::span<float> params, std::span<float> grads, double& loss_sum,
                  int64_t batch, float lr, int64_t t) {
  if (!bucketed_) {
    comm::reduce_scatter(group_, grads);
    if (stage_ >= 2) release_unowned(grads);
  }
  const std::span<float> mine = grads.subspan(shard_.offset, shard_.count);
  const float inv_batch = 1.0f / static_cast<float>(batch);
  for (float& g : mine) g *= inv_batch;
  double sums[2] = {loss_sum, 0.0};  // one allreduce: the loss and the squares
  for (const auto& [b, e] : counted_)
    for (size_t i = b; i < e; ++i) sums[1] += static_cast<double>(grads[i]) * grads[i];
  comm::allreduce(norm_group_, std::span<double>(sums));
  loss_sum = sums[0];
  const double norm = std::sqrt(sums[1]);
  clip_to(mine, norm, adam_.config().clip_norm);
  adam_.step_range(params, grads, lr, t, shard_.offset, shard_.count);
  if (stage_ < 3) comm::allgather(group_, params);
  return norm;
}

void Zero::zero_grads(std::span<float> grads) const {
  if (stage_ == 1) return std::fill(grads.begin(), grads.end(), 0.0f);
  const std::span<float> mine = grads.subspan(shard_.offset, shard_.count);
  std::fill(mine.begin(), mine.end(), 0.0f);
}

void Zero::release_unowned(std::span<float> grads) const {
  pages::release(grads.first(shard_.offset));
  pages::release(grads.subspan(shard_.offset + shard_.count));
}

void Zero::acquire(size_t begin, size_t end) {
  if (whole_) return;  // gathered for a checkpoint: every rank holds every unit
  for (int r = 0; r < group_.size(); ++r) {
    const comm::Shard s = comm::shard_of(total_, group_.size(), r);
    const size_t lo = std::max(begin, s.offset), hi = std::min(end, s.offset + s.count);
    if (lo >= hi) continue;
    comm::broadcast(group_, std::as_writable_bytes(params_.subspan(lo, hi - lo)), r);
    if (r != group_.rank()) gathered_floats_ += hi - lo;
  }
}

void Zero::release(size_t begin, size_t end) {
  if (whole_) return;
  const size_t lo = shard_.offset, hi = shard_.offset + shard_.count;
  if (begin < std::min(end, lo)) pages::release(params_.subspan(begin, std::min(end, lo) - begin));
  if (std::max(begin, hi) < end) pages::release(params_.subspan(std::max(begin, hi), end - std::max(begin, hi)));
}

void Zero::shard_params() {
  whole_ = false;
  release(0, total_);
}

void Zero::gather_params() {
  comm::allgather(group_, params_);
  whole_ = true;  // until shard_params(): the evaluation and the save between use it
}

void Zero::gather_moments(AdamW& full) {
  full.m.assign(total_, 0.0f);
  full.v.assign(total_, 0.0f);
  std::copy(adam_.m.begin(), adam_.m.end(), full.m.begin() + shard_.offset);
  std::copy(adam_.v.begin(), adam_.v.end(), full.v.begin() + shard_.offset);
  comm::allgather(group_, std::span<float>(full.m));
  comm::allgather(group_, std::span<float>(full.v));
}

}  // namespace plait
