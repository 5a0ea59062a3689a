// The one exchange after a data-parallel step's gradient reduction (docs/BALANCE.md):
// every rank's loss sum and step timing (compute, waiting, sequences), gathered in one
// round instead of a loss allreduce (a ring: 2(N-1) hand-offs) followed by the
// balancer's timing allgather (N-1 more).
//
// Call c on rank r (every rank of the group calls run() once per step, in step order):
//   wait for r's sends of call c - 1 (long since taken: every peer received them
//     before leaving call c - 1's own receives);
//   post a receive from every peer q into all[q], a send of r's record to every peer;
//   wait for the receives only.
// So a rank leaves as soon as it holds every record: the last one to arrive finds every
// peer's record waiting and does not sleep; the others wake once. Its own sends
// complete at the next call (the record stays in `mine_` until then). Messages of
// consecutive calls are told apart by their tag (the call's number).
//
// Every rank adds the loss sums in rank order, so all ranks return the same bits, on
// every backend (threads and MPI alike). The group should be the exchange's own
// (Group::dup): its point-to-point tags are the call numbers. A peer that never comes
// fails the wait with the group's timeout, naming the group and the peer.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "comm/group.h"
#include "parallel/run_loop.h"

namespace plait {

class StepExchange {
 public:
  static constexpr int kFields = 5;  // per rank: loss sum, compute_s, wait_s, seqs, work_cpu_s

  explicit StepExchange(comm::Group group);
  ~StepExchange();
  StepExchange(const StepExchange&) = delete;
  StepExchange& operator=(const StepExchange&) = delete;

  // Collective: gathers (loss_sum, timing) of every rank; returns the sum of the loss
  // sums in rank order.
  double run(double loss_sum, const StepTiming& timing);
  // The last run's timings, kFields - 1 per rank in rank order: compute_s, wait_s, seqs,
  // work_cpu_s.
  std::span<const double> timings() const { return timings_; }
  // Calls of run() so far (a consumer checks its timings are this step's).
  std::int64_t calls() const { return calls_; }

 private:
  comm::Group g_;
  std::array<double, kFields> mine_{};
  std::vector<double> all_, timings_;
  std::vector<comm::Request> recvs_, sends_;
  std::int64_t calls_ = 0;
  bool settled_ = true;  // the last run() returned: its sends are safe to wait for
};

}  // namespace plait
