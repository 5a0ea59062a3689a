#include "parallel/zero.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

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
  if (stage_ == 3) {
    prefetch_group_ = group_.dup("zero-params");  // collective, like the caller's dup
    prefetcher_ = std::make_unique<OrderedWorker<ArenaRange>>([this](const ArenaRange& r) {
      const size_t floats = gather(prefetch_group_, r.first, r.second);
      std::lock_guard lock(m_);
      gathered(floats);
    });
  }
}

Zero::~Zero() = default;

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
  // --on-nonfinite: no update anywhere (the parameters are still the same on every
  // rank, so nothing to gather either); every rank sees the same global sums
  if (!std::isfinite(norm) || !std::isfinite(loss_sum)) return norm;
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

void Zero::bind_params(std::span<float> params, const Units& units) {
  params_ = params;
  if (units.empty()) return;
  size_t unit = 0, slots = 0;
  for (size_t i = 0; i < units.size(); ++i) {
    size_t n = 0;
    for (const auto& [b, e] : units[i]) n += e - b;
    unit = std::max(unit, n);
    const size_t w = windows(units[i]);
    slots = std::max(slots, i + 1 < units.size() ? w + windows(units[i + 1]) : w);
  }
  const size_t page = pages::page_bytes();
  const size_t slot = (unit * sizeof(float) + page - 1) / page * page;  // whole pages, as the cap
  pool_ = std::make_unique<PagePool>(slots * slot, /*zeroed=*/false, slot);
  pool_->reserve();
}

size_t Zero::windows(const std::vector<ArenaRange>& unit) const {
  const size_t lo = shard_.offset, hi = shard_.offset + shard_.count;
  size_t n = 0;
  for (const auto& [b, e] : unit) {
    if (b < std::min(e, lo)) n += PagePool::lendable(params_.subspan(b, std::min(e, lo) - b));
    if (std::max(b, hi) < e) n += PagePool::lendable(params_.subspan(std::max(b, hi), e - std::max(b, hi)));
  }
  return n;
}

void Zero::lend_unowned(size_t begin, size_t end) {
  if (!pool_) return;
  const size_t lo = shard_.offset, hi = shard_.offset + shard_.count;
  if (begin < std::min(end, lo)) pool_->lend(params_.subspan(begin, std::min(end, lo) - begin));
  if (std::max(begin, hi) < end) pool_->lend(params_.subspan(std::max(begin, hi), end - std::max(begin, hi)));
}

void Zero::free_range(size_t begin, size_t end) {
  const std::span<float> s = params_.subspan(begin, end - begin);
  if (pool_) pool_->give_back(s);
  else pages::release(s);
}

size_t Zero::gather(comm::Group& g, size_t begin, size_t end) {
  lend_unowned(begin, end);  // every float of [begin, end) is written below
  size_t floats = 0;
  for (int r = 0; r < g.size(); ++r) {
    const comm::Shard s = comm::shard_of(total_, g.size(), r);
    const size_t lo = std::max(begin, s.offset), hi = std::min(end, s.offset + s.count);
    if (lo >= hi) continue;
    comm::broadcast(g, std::as_writable_bytes(params_.subspan(lo, hi - lo)), r);
    if (r != g.rank()) floats += hi - lo;
  }
  return floats;
}

void Zero::gathered(size_t floats) {
  gathered_floats_ += floats;
  peak_bytes_ = std::max(peak_bytes_, pages::resident_bytes(params_));
}

size_t Zero::outside(size_t begin, size_t end) const {
  const size_t lo = std::max(begin, shard_.offset), hi = std::min(end, shard_.offset + shard_.count);
  return (end - begin) - (lo < hi ? hi - lo : 0);
}

void Zero::hold(size_t begin, size_t end) {
  held_ += outside(begin, end);
  held_peak_ = std::max(held_peak_, held_);
}

Zero::Held Zero::held(std::span<const float> params, std::span<const float> grads) const {
  constexpr double kFloat = sizeof(float);
  Held h;
  h.params = stage_ >= 3 ? static_cast<double>(pages::resident_bytes(params)) : kFloat * params.size();
  h.grads = stage_ >= 2 ? static_cast<double>(pages::resident_bytes(grads)) : kFloat * grads.size();
  h.param_pool = static_cast<double>(pool_bytes());
  h.gathered = pool_ ? h.param_pool : kFloat * static_cast<double>(held_peak_);
  if (grad_pool_bytes_) h.grad_pool = static_cast<double>(grad_pool_bytes_());
  return h;
}

void Zero::acquire(size_t begin, size_t end) {
  if (whole_) return;  // gathered for a checkpoint: every rank holds every unit
  if (hinted_ > 0) {  // counted in held_ when it was hinted
    const ArenaRange next = prefetcher_->pop_done();  // rethrows a failed gather
    --hinted_;
    if (next != ArenaRange{begin, end})
      throw std::logic_error("ZeRO-3: a pass acquired parameters it did not hint next");
    return;
  }
  hold(begin, end);
  const size_t floats = gather(group_, begin, end);
  std::lock_guard lock(m_);
  gathered(floats);
}

void Zero::prefetch(std::span<const ArenaRange> next) {
  if (whole_ || !prefetcher_) return;
  for (const auto& [b, e] : next) {
    hold(b, e);
    prefetcher_->push({b, e});
    ++hinted_;
  }
}

size_t Zero::gathered_floats() const {
  std::lock_guard lock(m_);
  return gathered_floats_;
}

size_t Zero::parameter_peak_bytes() const {
  std::lock_guard lock(m_);
  return peak_bytes_;
}

void Zero::release(size_t begin, size_t end) {
  if (whole_) return;
  held_ -= std::min(held_, outside(begin, end));
  const size_t lo = shard_.offset, hi = shard_.offset + shard_.count;
  if (begin < std::min(end, lo)) free_range(begin, std::min(end, lo));
  if (std::max(begin, hi) < end) free_range(std::max(begin, hi), end);
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

void Zero::load_moments(const AdamW& full) {
  const auto lo = static_cast<std::ptrdiff_t>(shard_.offset), n = static_cast<std::ptrdiff_t>(shard_.count);
  std::copy(full.m.begin() + lo, full.m.begin() + lo + n, adam_.m.begin());
  std::copy(full.v.begin() + lo, full.v.begin() + lo + n, adam_.v.begin());
}

}  // namespace plait
