// StepExchange (parallel/step_exchange.h): the one exchange after a data-parallel step.
// Every rank gets every rank's timings and the same loss sum, bit for bit, added in
// rank order, over many calls (each call's sends completing only at the next); a rank
// that never comes makes the others fail with the group's timeout, naming the group.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "../comm/comm_helpers.h"
#include "comm/comm.h"
#include "parallel/step_exchange.h"
#include "util/error.h"

namespace plait {
namespace {

comm::ThreadsOptions threads(int world, double timeout_s = 30) {
  comm::ThreadsOptions o;
  o.world = world;
  o.timeout_s = timeout_s;
  return o;
}

// Rank r's record of call c: a loss sum whose float additions depend on the order,
// and timings that identify (r, c).
double loss_of(int r, int c) {
  std::mt19937_64 rng(1000 * c + r);
  return std::uniform_real_distribution<double>(0, 200)(rng);
}
StepTiming timing_of(int r, int c) { return {0.001 * (c + 1) + r, 0.5 * r + c, 7 * r + c, 0.25 * c - r}; }

using comm::test::Findings;

TEST(StepExchange, EveryRankGetsEveryRecordAndTheLossSumInRankOrder) {
  constexpr int kCalls = 60;
  for (int p : {1, 2, 3, 4}) {
    Findings wrong;
    comm::run_threads(threads(p), [&](comm::Comm& c) {
      comm::Group world = c.world();
      StepExchange x(world.dup("step-exchange"));
      for (int call = 0; call < kCalls; ++call) {
        const double got = x.run(loss_of(c.rank(), call), timing_of(c.rank(), call));
        double want = 0;
        for (int q = 0; q < p; ++q) want += loss_of(q, call);  // rank order
        const std::string at = "world " + std::to_string(p) + " rank " +
                               std::to_string(c.rank()) + " call " + std::to_string(call);
        if (got != want) wrong.add(at + ": loss sum not the rank-order sum");
        const auto t = x.timings();
        if (t.size() != static_cast<size_t>(4 * p)) wrong.add(at + ": timings' size");
        for (int q = 0; q < p && t.size() == static_cast<size_t>(4 * p); ++q) {
          const StepTiming w = timing_of(q, call);
          if (t[4 * q] != w.compute_s || t[4 * q + 1] != w.wait_s ||
              t[4 * q + 2] != static_cast<double>(w.seqs) || t[4 * q + 3] != w.work_cpu_s)
            wrong.add(at + ": rank " + std::to_string(q) + "'s timing");
        }
        if (x.calls() != call + 1) wrong.add(at + ": calls");
      }
    });
    for (const std::string& w : wrong.items()) ADD_FAILURE() << w;
  }
}

TEST(StepExchange, APeerThatNeverComesTimesOutNamingTheGroup) {
  Findings seen;
  comm::run_threads(threads(3, 0.3), [&](comm::Comm& c) {
    comm::Group world = c.world();
    StepExchange x(world.dup("step-exchange"));
    if (c.rank() == 2) return;  // never exchanges
    try {
      x.run(1.0, {});
      seen.add("rank " + std::to_string(c.rank()) + " returned");
    } catch (const TimeoutError& e) {
      const std::string what = e.what();
      if (what.find("step-exchange") == std::string::npos || what.find("rank 2") == std::string::npos)
        seen.add("rank " + std::to_string(c.rank()) + ": " + what);
    }
  });
  for (const std::string& s : seen.items()) ADD_FAILURE() << s;
}

}  // namespace
}  // namespace plait
