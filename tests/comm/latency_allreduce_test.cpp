// LatencyAllreduce (generation's tensor-group allreduce): the shared-memory path of
// the threads backend and its message fallback give the closed-form sums, every rank
// the same bits in rank order, over many calls (the two slots per rank alternate),
// and a member that leaves makes the others throw instead of hanging.
#include <random>

#include "comm/latency_allreduce.h"
#include "comm_helpers.h"
#include "util/error.h"

namespace plait::comm {
namespace {

using test::Findings;

constexpr std::size_t kCap = 1024;

TEST(LatencyAllreduce, ClosedFormThroughSharedMemoryAndExchange) {
  for (int p : {1, 2, 3, 4})
    for (bool spin : {true, false}) {
      Findings wrong;
      run_threads(test::threads(p), [&](Comm& c) {
        LatencyAllreduce ar(c.world(), kCap, spin);
        if (p > 1 && !ar.shared(kCap)) wrong.add("threads backend not shared");
        if (ar.shared(kCap + 1)) wrong.add("above the capacity still shared");
        // Lengths alternate between the two paths and the two slots.
        const std::vector<std::size_t> lengths = {1, 7, 512, kCap, kCap + 1, 3, kCap, 0, 2000};
        for (int round = 0; round < 40; ++round)
          for (std::size_t n : lengths) {
            std::vector<float> v = test::filled(c.rank(), n);
            ar.run(v.data(), n);
            if (long i = test::first_wrong(v, p); i >= 0)
              wrong.add("world " + std::to_string(p) + " spin " + std::to_string(spin) +
                        " rank " + std::to_string(c.rank()) + " length " + std::to_string(n) +
                        " round " + std::to_string(round) + " index " + std::to_string(i));
          }
        if (p > 1 && ar.calls() != 40 * 8) wrong.add("calls " + std::to_string(ar.calls()));
      });
      for (const std::string& w : wrong.items()) ADD_FAILURE() << w;
    }
}

// Random floats: the sum depends on the order. Every rank gets ((p0 + p1) + p2) + ...
TEST(LatencyAllreduce, EveryRankGetsTheSameBitsInRankOrder) {
  constexpr int p = 3;
  constexpr std::size_t n = 300;
  std::vector<std::vector<float>> in(p, std::vector<float>(n));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  for (auto& v : in)
    for (float& x : v) x = u(rng) * 1e3f;
  std::vector<float> expect = in[0];
  for (int q = 1; q < p; ++q)
    for (std::size_t i = 0; i < n; ++i) expect[i] += in[q][i];
  for (std::size_t cap : {n, std::size_t{0}}) {  // shared, then the exchange
    Findings wrong;
    run_threads(test::threads(p), [&](Comm& c) {
      LatencyAllreduce ar(c.world(), cap, true);
      for (int rep = 0; rep < 5; ++rep) {
        std::vector<float> v = in[c.rank()];
        ar.run(v.data(), n);
        if (v != expect)
          wrong.add("cap " + std::to_string(cap) + " rank " + std::to_string(c.rank()) +
                    " rep " + std::to_string(rep) + ": not the rank-order sum");
      }
    });
    for (const std::string& w : wrong.items()) ADD_FAILURE() << w;
  }
}

TEST(LatencyAllreduce, AMemberThatLeavesMakesTheOthersThrow) {
  for (bool spin : {true, false}) {
    Findings caught;
    run_threads(test::threads(2), [&](Comm& c) {
      auto ar = std::make_unique<LatencyAllreduce>(c.world(), kCap, spin);
      std::vector<float> v(16, 1.0f);
      ar->run(v.data(), v.size());  // both arrive
      if (c.rank() == 1) {
        ar.reset();  // leaves without the second call
        return;
      }
      try {
        ar->run(v.data(), v.size());
      } catch (const RuntimeError& e) {
        caught.add(e.what());
      }
    });
    ASSERT_EQ(caught.items().size(), 1u) << "spin " << spin;
    EXPECT_NE(caught.items()[0].find("a member left"), std::string::npos) << caught.items()[0];
  }
}

}  // namespace
}  // namespace plait::comm
