// Failure behaviour: a rank that skips a collective makes every other rank fail with
// an error that names it; a worker that throws stops the others at once.
#include <chrono>
#include <thread>

#include "comm_helpers.h"
#include "util/error.h"

namespace plait::comm {
namespace {

constexpr double kTimeout = 0.3;
constexpr int kWorld = 4, kSkipper = 2;

struct Outcome {
  std::vector<std::string> errors = std::vector<std::string>(kWorld);
};

// Every rank but kSkipper runs `collective` once with a short timeout; kSkipper skips
// it and then runs `after` (which may itself block in a later collective).
Outcome run_with_skipper(int ranks_per_node, const std::function<void(Group&)>& collective,
                         const std::function<void(Group&)>& after = nullptr) {
  Outcome out;
  run_threads(test::threads(kWorld, ranks_per_node, kTimeout), [&](Comm& c) {
    try {
      if (c.rank() == kSkipper) {
        if (after) after(c.world());
        return;
      }
      collective(c.world());
      out.errors[c.rank()] = "(no error)";
    } catch (const std::exception& e) {
      out.errors[c.rank()] = e.what();
    }
  });
  return out;
}

// `independent`: a rank whose part of the collective does not depend on the skipper,
// which may finish (it fails in its next collective instead).
void expect_all_name_the_skipper(const Outcome& out, const std::string& what,
                                 int independent = -1) {
  for (int r = 0; r < kWorld; ++r) {
    if (r == kSkipper) continue;
    if (r == independent && out.errors[r] == "(no error)") continue;
    EXPECT_NE(out.errors[r].find("missing rank 2"), std::string::npos)
        << what << ", rank " << r << ": " << out.errors[r];
  }
}

class SkippedAllreduce : public testing::TestWithParam<Algorithm> {};

TEST_P(SkippedAllreduce, EveryOtherRankFailsNamingTheMissingRank) {
  const Algorithm a = GetParam();
  Outcome out = run_with_skipper(2, [&](Group& g) {
    std::vector<float> v(1000, 1.0f);
    allreduce(g, std::span<float>(v), {a});
  });
  expect_all_name_the_skipper(out, to_string(a));
}

INSTANTIATE_TEST_SUITE_P(Threads, SkippedAllreduce,
                         testing::Values(Algorithm::ps, Algorithm::direct, Algorithm::ring,
                                         Algorithm::hierarchical, Algorithm::halving_doubling),
                         [](const testing::TestParamInfo<Algorithm>& i) {
                           return i.param == Algorithm::halving_doubling
                                      ? std::string("halving_doubling")
                                      : std::string(to_string(i.param));
                         });

TEST(Timeout, ErrorNamesCollectiveSequenceGroupAndRank) {
  Outcome out = run_with_skipper(
      0,
      [](Group& g) {
        barrier(g);  // #0, everyone
        std::vector<float> v(10);
        allreduce(g, std::span<float>(v));  // #1, rank 2 missing
      },
      [](Group& g) { barrier(g); });
  // Rank 3 receives from rank 2 in the first ring step.
  const std::string& e = out.errors[3];
  EXPECT_NE(e.find("timeout: allreduce(ring) #1 in group 'world' (rank 3 of 4) waited 0.3 s for "
                   "rank 2"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("missing rank 2 (it has returned from its worker)"), std::string::npos) << e;
  expect_all_name_the_skipper(out, "ring after a barrier");
}

TEST(Timeout, SkipperStuckInTheNextCollectiveIsNamedWithWhereItIs) {
  Outcome out = run_with_skipper(
      0,
      [](Group& g) {
        std::vector<float> v(10);
        allreduce(g, std::span<float>(v), {Algorithm::direct});
      },
      [](Group& g) {
        g.set_timeout(4 * kTimeout);  // still waiting when the others time out
        try {
          barrier(g);
        } catch (const std::exception&) {
        }
      });
  expect_all_name_the_skipper(out, "direct, skipper in barrier");
  // Having skipped #0, the skipper's barrier is its #0 too: told apart by name.
  EXPECT_NE(out.errors[0].find("missing rank 2 (it is waiting in barrier #0 of group 'world')"),
            std::string::npos)
      << out.errors[0];
}

TEST(Timeout, SkippedBroadcastAndBarrier) {
  expect_all_name_the_skipper(run_with_skipper(0, [](Group& g) { barrier(g); }), "barrier");
  // Binomial tree from 0: 0 -> {2, 1}, 2 -> 3. Rank 1 does not need rank 2.
  expect_all_name_the_skipper(run_with_skipper(0,
                                               [](Group& g) {
                                                 std::vector<std::byte> b(64);
                                                 broadcast(g, b, 0);
                                               }),
                              "broadcast", 1);
}

TEST(Timeout, SubgroupErrorsUseGroupRanksAndName) {
  std::vector<std::string> errors(6);
  run_threads(test::threads(6, 0, kTimeout), [&](Comm& c) {
    Group odd = c.world().split(c.rank() % 2, c.rank(), "odd-even");
    try {
      if (c.rank() == 3) return;  // rank 1 of the odd group
      std::vector<float> v(100);
      allreduce(odd, std::span<float>(v));
    } catch (const std::exception& e) {
      errors[c.rank()] = e.what();
    }
  });
  EXPECT_TRUE(errors[0].empty() && errors[2].empty() && errors[4].empty());
  for (int r : {1, 5}) {
    EXPECT_NE(errors[r].find("in group 'odd-even'"), std::string::npos) << errors[r];
    EXPECT_NE(errors[r].find("missing rank 1 (world rank 3)"), std::string::npos) << errors[r];
  }
}

TEST(RunThreads, FirstExceptionPropagatesAndStopsTheOthers) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> errors(4);
  try {
    run_threads(test::threads(4, 0, 60), [&](Comm& c) {
      if (c.rank() == 1) throw std::logic_error("boom");
      try {
        barrier(c.world());
      } catch (const RuntimeError& e) {
        errors[c.rank()] = e.what();
        throw;
      }
    });
    FAIL() << "expected the worker's exception";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "boom");
  }
  // The others were stopped by the abort, not by their 60 s timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  for (int r : {0, 2, 3})
    EXPECT_NE(errors[r].find("rank 1 failed: boom"), std::string::npos) << errors[r];
}

TEST(RunThreads, RejectsBadOptions) {
  EXPECT_THROW(run_threads(test::threads(0), [](Comm&) {}), UsageError);
  EXPECT_THROW(run_threads(test::threads(2, -1), [](Comm&) {}), UsageError);
}

}  // namespace
}  // namespace plait::comm

namespace plait::comm {
namespace {

TEST(Timeout, PointToPointNamesTagGroupAndPeer) {
  std::string error;
  run_threads(test::threads(2, 0, kTimeout), [&](Comm& c) {
    if (c.rank() == 1) return;  // never sends
    try {
      int x = 0;
      c.world().recv(1, 42, std::as_writable_bytes(std::span(&x, 1)));
    } catch (const TimeoutError& e) {
      error = e.what();
    }
  });
  EXPECT_NE(error.find("timeout: recv #42 in group 'world' (rank 0 of 2) waited 0.3 s for rank 1"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("missing rank 1 (it has returned from its worker)"), std::string::npos)
      << error;
}

}  // namespace
}  // namespace plait::comm
