// LatencyAllreduce (generation's tensor-group allreduce): the shared-memory path of
// the threads backend and its message fallback give the closed-form sums, every rank
// the same bits in rank order, over many calls (the two slots per rank alternate),
// and a member that leaves, never arrives, or fails (aborting the world) makes the
// others throw instead of hanging.
#include <memory>
#include <random>
#include <stdexcept>

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

// Rank 2 keeps its member alive (so "a member left" cannot end the wait) but never
// calls run(): ranks 0 and 1 end in the group's timeout, naming themselves, the
// operation and rank 2.
TEST(LatencyAllreduce, AMemberThatNeverArrivesEndsInTheTimeout) {
  for (bool spin : {true, false}) {
    Findings caught, other;
    std::vector<std::unique_ptr<LatencyAllreduce>> kept(3);
    run_threads(test::threads(3, 0, 0.2), [&](Comm& c) {
      kept[c.rank()] = std::make_unique<LatencyAllreduce>(c.world(), kCap, spin);
      std::vector<float> v(16, 1.0f);
      kept[c.rank()]->run(v.data(), v.size());  // all arrive
      if (c.rank() == 2) return;
      try {
        kept[c.rank()]->run(v.data(), v.size());
        other.add("rank " + std::to_string(c.rank()) + " returned");
      } catch (const TimeoutError& e) {
        caught.add(e.what());
      } catch (const std::exception& e) {
        other.add(e.what());
      }
    });
    for (const std::string& w : other.items()) ADD_FAILURE() << "spin " << spin << ": " << w;
    ASSERT_EQ(caught.items().size(), 2u) << "spin " << spin;
    for (const std::string& e : caught.items()) {
      EXPECT_NE(e.find("allreduce(latency)"), std::string::npos) << e;
      EXPECT_TRUE(e.find("(rank 0 of 3)") != std::string::npos ||
                  e.find("(rank 1 of 3)") != std::string::npos) << e;
      EXPECT_NE(e.find("missing rank 2"), std::string::npos) << e;
    }
  }
}

// Rank 2 fails while its member stays alive: the world's abort wakes ranks 0 and 1
// (the timeout is far away) with the failure's cause.
TEST(LatencyAllreduce, AnAbortedWorldWakesTheWaiters) {
  for (bool spin : {true, false}) {
    Findings caught;
    std::vector<std::unique_ptr<LatencyAllreduce>> kept(3);
    std::string rethrown;
    try {
      run_threads(test::threads(3, 0, 600), [&](Comm& c) {
        kept[c.rank()] = std::make_unique<LatencyAllreduce>(c.world(), kCap, spin);
        std::vector<float> v(16, 1.0f);
        kept[c.rank()]->run(v.data(), v.size());
        if (c.rank() == 2) throw std::runtime_error("injected failure");
        try {
          kept[c.rank()]->run(v.data(), v.size());
        } catch (const TimeoutError& e) {
          caught.add(std::string("timeout: ") + e.what());
        } catch (const RuntimeError& e) {
          caught.add(e.what());
        }
      });
    } catch (const std::exception& e) {
      rethrown = e.what();
    }
    EXPECT_NE(rethrown.find("injected failure"), std::string::npos) << rethrown;
    ASSERT_EQ(caught.items().size(), 2u) << "spin " << spin;
    for (const std::string& e : caught.items()) {
      EXPECT_NE(e.find("stopped: rank 2 failed"), std::string::npos) << e;
      EXPECT_NE(e.find("injected failure"), std::string::npos) << e;
    }
  }
}

}  // namespace
}  // namespace plait::comm
