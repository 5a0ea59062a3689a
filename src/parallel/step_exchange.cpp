#include "parallel/step_exchange.h"

#include <algorithm>

namespace plait {

StepExchange::StepExchange(comm::Group group)
    : g_(std::move(group)),
      all_(static_cast<size_t>(kFields) * g_.size()),
      timings_(static_cast<size_t>(kFields - 1) * g_.size()) {}

// The last call's sends. When that call returned (this rank holds every record), every
// peer is inside or past the same call and takes this rank's record there without
// needing anything more from this rank, so the wait is short even while an error
// unwinds: a rank that stops after the exchange (a non-finite loss every rank sees) must
// not withdraw its record from a peer still about to read it, or that peer fails with
// "withdrew its message" before the run is marked aborted and that line, not the cause,
// can become the run's error. (Under MPI the 40-byte sends complete locally anyway.) A
// call that did not return (a peer gone mid-exchange) is not waited for: the requests'
// own clean-up unposts or forgets them.
StepExchange::~StepExchange() {
  if (!settled_) return;
  try {
    for (auto& s : sends_) g_.wait(s);
  } catch (...) {  // a destructor does not throw: the run has failed elsewhere
  }
}

double StepExchange::run(double loss_sum, const StepTiming& timing) {
  for (auto& s : sends_) g_.wait(s);  // the previous call's: mine_ is free again
  sends_.clear();
  settled_ = false;
  recvs_.clear();
  const int p = g_.size(), me = g_.rank();
  mine_ = {loss_sum, timing.compute_s, timing.wait_s, static_cast<double>(timing.seqs),
           timing.work_cpu_s};
  std::copy(mine_.begin(), mine_.end(), all_.begin() + static_cast<std::ptrdiff_t>(kFields * me));
  const std::uint64_t tag = static_cast<std::uint64_t>(calls_++) % (g_.max_tag() + 1);
  const auto record = [&](int q) {
    return std::as_writable_bytes(std::span<double>(all_.data() + static_cast<size_t>(kFields) * q, kFields));
  };
  // receives first: a peer's send then finds its receive posted (threads: no queueing)
  for (int k = 1; k < p; ++k) recvs_.push_back(g_.irecv((me - k + p) % p, tag, record((me - k + p) % p)));
  for (int k = 1; k < p; ++k)
    sends_.push_back(g_.isend((me + k) % p, tag, std::as_bytes(std::span<const double>(mine_))));
  for (auto& r : recvs_) g_.wait(r);
  settled_ = true;
  double sum = 0;
  for (int q = 0; q < p; ++q) {
    sum += all_[static_cast<size_t>(kFields) * q];
    for (int f = 1; f < kFields; ++f)
      timings_[static_cast<size_t>(kFields - 1) * q + f - 1] = all_[static_cast<size_t>(kFields) * q + f];
  }
  return sum;
}

}  // namespace plait
