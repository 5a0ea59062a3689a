#include "parallel/zero.h"

#include <algorithm>
#include <cmath>

namespace plait {

Zero1::Zero1(comm::Group group, size_t total, AdamW& adam)
    : group_(std::move(group)),
      adam_(adam),
      total_(total),
      shard_(comm::shard_of(total, group_.size(), group_.rank())) {
  adam_.keep_range(shard_.offset, shard_.count);
}

double Zero1::step(std::span<float> params, std::span<float> grads, double& loss_sum,
                   int64_t batch, float lr, int64_t t) {
  comm::reduce_scatter(group_, grads);
  const std::span<float> mine = grads.subspan(shard_.offset, shard_.count);
  const float inv_batch = 1.0f / static_cast<float>(batch);
  double sums[2] = {loss_sum, 0.0};  // one allreduce: the loss and the squares
  for (float& g : mine) {
    g *= inv_batch;
    sums[1] += static_cast<double>(g) * g;
  }
  comm::allreduce(group_, std::span<double>(sums));
  loss_sum = sums[0];
  const double norm = std::sqrt(sums[1]);
  clip_to(mine, norm, adam_.config().clip_norm);
  adam_.step_range(params, grads, lr, t, shard_.offset, shard_.count);
  comm::allgather(group_, params);
  return norm;
}

void Zero1::gather_moments(AdamW& full) {
  full.m.assign(total_, 0.0f);
  full.v.assign(total_, 0.0f);
  std::copy(adam_.m.begin(), adam_.m.end(), full.m.begin() + shard_.offset);
  std::copy(adam_.v.begin(), adam_.v.end(), full.v.begin() + shard_.offset);
  comm::allgather(group_, std::span<float>(full.m));
  comm::allgather(group_, std::span<float>(full.v));
}

}  // namespace plait
