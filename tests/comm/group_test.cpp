// Groups: split, subgroup, nodes, point-to-point, and two threads of a rank using
// two groups at once (the data-parallel thread beside the pipeline's sends).
#include <thread>

#include "comm_helpers.h"
#include "util/error.h"

namespace plait::comm {
namespace {

using test::Findings;

TEST(Group, WorldKnowsItsNodes) {
  run_threads(test::threads(6, 2), [](Comm& c) {
    Group& w = c.world();
    if (w.size() != 6 || w.node_count() != 3 || w.node(c.rank()) != c.rank() / 2 ||
        w.local_rank() != c.rank() % 2 || w.local_size() != 2 || !w.uniform_nodes() ||
        w.node_members(1) != std::vector<int>{2, 3} || w.world_rank(4) != 4 || w.name() != "world")
      throw std::runtime_error("bad world group on rank " + std::to_string(c.rank()));
  });
}

TEST(Group, SplitOrdersByKeyAndKeepsNodes) {
  Findings wrong;
  run_threads(test::threads(6, 2), [&](Comm& c) {
    // Two groups by parity; keys reverse the order.
    Group g = c.world().split(c.rank() % 2, -c.rank(), "parity");
    const std::vector<int> expect =
        c.rank() % 2 ? std::vector<int>{5, 3, 1} : std::vector<int>{4, 2, 0};
    for (int r = 0; r < 3; ++r)
      if (g.world_rank(r) != expect[r]) wrong.add("order");
    if (g.size() != 3 || g.world_rank(g.rank()) != c.rank()) wrong.add("rank");
    // One member per node: three nodes of one.
    if (g.node_count() != 3 || g.local_size() != 1 || !g.uniform_nodes()) wrong.add("nodes");
    std::vector<float> v = test::filled(g.rank(), 100);
    allreduce(g, std::span<float>(v));
    if (test::first_wrong(v, 3) >= 0) wrong.add("allreduce");
  });
  for (const std::string& w : wrong.items()) ADD_FAILURE() << w;
}

TEST(Group, NegativeColorJoinsNothingAndSubgroupKeepsListedOrder) {
  Findings wrong;
  run_threads(test::threads(5), [&](Comm& c) {
    Group none = c.world().split(c.rank() == 0 ? -1 : 0, c.rank(), "no-zero");
    if ((c.rank() == 0) == none.valid()) wrong.add("color -1");
    Group sub = c.world().subgroup({4, 1, 3}, "sub");
    const bool member = c.rank() == 4 || c.rank() == 1 || c.rank() == 3;
    if (member != sub.valid()) wrong.add("membership");
    if (sub.valid()) {
      if (sub.size() != 3 || sub.world_rank(0) != 4 || sub.world_rank(2) != 3) wrong.add("order");
      barrier(sub);
    }
    Group again = c.world().dup("again");
    barrier(again);
  });
  for (const std::string& w : wrong.items()) ADD_FAILURE() << w;
}

TEST(Group, SubgroupRejectsRepeatedRanks) {
  EXPECT_THROW(run_threads(test::threads(3),
                           [](Comm& c) {
                             c.world().subgroup({0, 0}, "x");
                           }),
               UsageError);
}

TEST(PointToPoint, MessagesWithOneTagArriveInOrderOthersMatchByTag) {
  run_threads(test::threads(2), [](Comm& c) {
    Group& g = c.world();
    if (c.rank() == 0) {
      int a = 1, b = 2, x = 9;
      Request r1 = g.isend(1, 5, std::as_bytes(std::span(&a, 1)));
      Request r2 = g.isend(1, 5, std::as_bytes(std::span(&b, 1)));
      Request r3 = g.isend(1, 7, std::as_bytes(std::span(&x, 1)));
      g.wait(r1);
      g.wait(r2);
      g.wait(r3);
    } else {
      int x = 0, a = 0, b = 0;
      g.recv(0, 7, std::as_writable_bytes(std::span(&x, 1)));  // overtakes tag 5 (other tag)
      g.recv(0, 5, std::as_writable_bytes(std::span(&a, 1)));
      g.recv(0, 5, std::as_writable_bytes(std::span(&b, 1)));
      if (x != 9 || a != 1 || b != 2) throw std::runtime_error("bad matching");
    }
  });
}

TEST(PointToPoint, SizeMismatchFailsBothSides) {
  int failures = 0;
  std::mutex m;
  run_threads(test::threads(2, 0, 5), [&](Comm& c) {
    std::vector<std::byte> buf(c.rank() == 0 ? 8 : 16);
    try {
      if (c.rank() == 0)
        c.world().send(1, 0, buf);
      else
        c.world().recv(0, 0, buf);
    } catch (const RuntimeError& e) {
      std::lock_guard lock(m);
      ++failures;
    }
  });
  EXPECT_EQ(failures, 2);
}

// Threads backend: a summing receive returns its sums into the sender's lent bytes
// (the ring allreduce's last reduce-scatter step); not offered with emulated links.
TEST(PointToPoint, SumsBackReachTheSenderInOnePass) {
  Findings wrong;
  run_threads(test::threads(2), [&](Comm& c) {
    Transport& t = c.world().transport();
    if (!t.sums_back()) wrong.add("threads transport without emulated links offers no sums_back");
    std::vector<float> v = {1.5f, 2.0f, -3.0f};
    if (c.rank() == 0) {
      Request r = t.isend_back(1, 9, std::as_writable_bytes(std::span(v)));
      t.wait(r, OpLabel{});
    } else {
      v = {10.0f, 20.0f, 30.0f};
      Request r = t.irecv(0, 9, std::as_writable_bytes(std::span(v)), Arrive::sum_back, DType::f32);
      t.wait(r, OpLabel{});
    }
    if (v != std::vector<float>{11.5f, 22.0f, 27.0f})
      wrong.add("rank " + std::to_string(c.rank()) + " does not hold the sums");
  });
  ThreadsOptions linked = test::threads(2);
  linked.intra = LinkSpec{1e-6, 1e12};
  run_threads(linked, [&](Comm& c) {
    if (c.world().transport().sums_back()) wrong.add("sums_back offered with emulated links");
  });
  for (const std::string& w : wrong.items()) ADD_FAILURE() << w;
}

// A lent send met by a plain summing receive (or the reverse) fails on both sides
// instead of leaving the sender with its old bytes.
TEST(PointToPoint, SumsBackMismatchFailsBothSides) {
  for (bool lend : {true, false}) {
    Findings failed;
    run_threads(test::threads(2, 0, 5), [&](Comm& c) {
      Transport& t = c.world().transport();
      std::vector<float> v(4, 1.0f);
      const Bytes b = std::as_writable_bytes(std::span(v));
      try {
        Request r = c.rank() == 0 ? (lend ? t.isend_back(1, 3, b) : t.isend(1, 3, b))
                                  : t.irecv(0, 3, b, lend ? Arrive::sum : Arrive::sum_back,
                                            DType::f32);
        t.wait(r, OpLabel{});
      } catch (const RuntimeError& e) {
        failed.add(e.what());
      }
    });
    const auto got = failed.items();
    EXPECT_EQ(got.size(), 2u) << "lend " << lend;
    for (const std::string& w : got)
      EXPECT_TRUE(w.find("rank") != std::string::npos) << w;
  }
}

TEST(PointToPoint, RejectsBadTagAndPeer) {
  EXPECT_THROW(run_threads(test::threads(2),
                           [](Comm& c) {
                             std::byte b{};
                             c.world().send(2, 0, std::span(&b, 1));
                           }),
               UsageError);
}

// A rank's collective thread (dp group) and its main thread (p2p on a pp group) at once.
TEST(Concurrency, TwoThreadsOfARankOnTwoGroups) {
  Findings wrong;
  run_threads(test::threads(4, 2), [&](Comm& c) {
    Group dp = c.world().split(c.rank() % 2, c.rank(), "dp");  // {0,2}, {1,3}
    Group pp = c.world().split(c.rank() / 2, c.rank(), "pp");  // {0,1}, {2,3}
    std::thread comm_thread([&] {
      for (int i = 0; i < 50; ++i) {
        std::vector<float> v = test::filled(dp.rank(), 4097 + i);
        allreduce(dp, std::span<float>(v), {i % 2 ? Algorithm::ring : Algorithm::direct});
        if (test::first_wrong(v, 2) >= 0) wrong.add("dp allreduce");
      }
    });
    for (int i = 0; i < 50; ++i) {
      std::vector<int> act(1000, pp.rank() == 0 ? i : -1);
      if (pp.rank() == 0)
        pp.send(1, static_cast<std::uint64_t>(i), std::as_bytes(std::span(act)));
      else
        pp.recv(0, static_cast<std::uint64_t>(i), std::as_writable_bytes(std::span(act)));
      if (act[999] != i) wrong.add("pp message");
    }
    // And the world's own point-to-point beside its collectives' contexts.
    barrier(c.world());
    comm_thread.join();
  });
  for (const std::string& w : wrong.items()) ADD_FAILURE() << w;
}

}  // namespace
}  // namespace plait::comm
