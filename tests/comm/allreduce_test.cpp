// Every allreduce algorithm x world size x length against the closed form, plus the
// determinism, sharding and error cases.
#include <cmath>
#include <cstring>
#include <random>

#include "comm_helpers.h"
#include "util/error.h"

namespace plait::comm {
namespace {

using test::Findings;

const std::vector<std::size_t> kLengths = {0, 1, 7, 1023, (1u << 20) + 3};

struct SweepCase {
  Algorithm algo;
  int world;
};

std::string case_name(const testing::TestParamInfo<SweepCase>& info) {
  std::string a = to_string(info.param.algo);
  for (char& c : a)
    if (c == '-') c = '_';
  return a + "_w" + std::to_string(info.param.world);
}

class AllreduceSweep : public testing::TestWithParam<SweepCase> {};

// Even worlds run as nodes of 2 (so hierarchical really is two-level), odd as nodes of 1.
TEST_P(AllreduceSweep, MatchesClosedForm) {
  const auto [algo, p] = GetParam();
  Findings wrong;
  run_threads(test::threads(p, p % 2 == 0 ? 2 : 1), [&](Comm& c) {
    auto sync = make_allreduce(c.world(), {algo, 2});
    for (std::size_t n : kLengths) {
      std::vector<float> v = test::filled(c.rank(), n);
      sync->run(std::span<float>(v));
      if (long i = test::first_wrong(v, p); i >= 0)
        wrong.add("rank " + std::to_string(c.rank()) + " length " + std::to_string(n) + " index " +
                  std::to_string(i) + ": " + std::to_string(v[i]) +
                  " != " + std::to_string(test::summed(p, i)));
    }
  });
  for (const std::string& w : wrong.items()) ADD_FAILURE() << w;
}

std::vector<SweepCase> sweep_cases() {
  std::vector<SweepCase> out;
  for (Algorithm a : kAlgorithms)
    if (a != Algorithm::mpi)
      for (int p : {1, 2, 3, 4, 5, 8}) out.push_back({a, p});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Threads, AllreduceSweep, testing::ValuesIn(sweep_cases()), case_name);

// Random floats: sums depend on order. Every rank must get the same bits, on every
// run, close to the exact sum.
TEST(Allreduce, DeterministicBitsOnEveryRankAndRun) {
  const int p = 5;
  const std::size_t n = 10007;
  std::vector<std::vector<float>> inputs(p);
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (auto& in : inputs) {
    in.resize(n);
    for (float& x : in) x = dist(rng);
  }
  for (Algorithm a : kAlgorithms) {
    if (a == Algorithm::mpi) continue;
    std::vector<std::vector<float>> out(2 * p);
    for (int run = 0; run < 2; ++run)
      run_threads(test::threads(p), [&](Comm& c) {
        std::vector<float> v = inputs[c.rank()];
        allreduce(c.world(), std::span<float>(v), {a, 2});
        out[run * p + c.rank()] = v;
      });
    for (int i = 1; i < 2 * p; ++i)
      EXPECT_EQ(0, std::memcmp(out[0].data(), out[i].data(), n * sizeof(float)))
          << to_string(a) << ": rank/run " << i << " differs from rank 0 run 0";
    for (std::size_t j = 0; j < n; j += 997) {
      double exact = 0;
      for (int r = 0; r < p; ++r) exact += inputs[r][j];
      EXPECT_NEAR(out[0][j], exact, 1e-5) << to_string(a);
    }
  }
}

// The ring's documented order: chunk c is x[c+1] + x[c+2] + ... + x[c], added left to
// right in float. The same bits whether the last reduce-scatter step returns the sums
// to its sender (threads, no emulated links) or the allgather carries them (emulated
// links: the plain two-phase ring).
TEST(Allreduce, RingAddsInRingOrderWithOrWithoutReturnedSums) {
  for (int p : {2, 3, 4, 5}) {
    const std::size_t n = 4099;
    std::vector<std::vector<float>> x(p, std::vector<float>(n));
    std::mt19937 rng(11 + p);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (auto& in : x)
      for (float& e : in) e = dist(rng);
    std::vector<float> want(n);
    for (int c = 0; c < p; ++c) {
      const Shard s = shard_of(n, p, c);
      for (std::size_t j = s.offset; j < s.offset + s.count; ++j) {
        float acc = x[(c + 1) % p][j];
        for (int k = 2; k <= p; ++k) acc += x[(c + k) % p][j];
        want[j] = acc;
      }
    }
    for (bool linked : {false, true}) {
      ThreadsOptions o = test::threads(p);
      if (linked) o.intra = LinkSpec{1e-6, 1e12};
      Findings wrong;
      run_threads(o, [&](Comm& c) {
        if (c.world().transport().sums_back() == linked) wrong.add("unexpected sums_back");
        std::vector<float> v = x[c.rank()];
        allreduce(c.world(), std::span<float>(v), {Algorithm::ring});
        if (std::memcmp(v.data(), want.data(), n * sizeof(float)) != 0)
          wrong.add("p " + std::to_string(p) + (linked ? " linked" : "") + " rank " +
                    std::to_string(c.rank()) + " differs from the ring order");
      });
      for (const std::string& w : wrong.items()) ADD_FAILURE() << w;
    }
  }
}

TEST(Allreduce, DoublesSum) {
  run_threads(test::threads(3), [&](Comm& c) {
    for (Algorithm a : {Algorithm::ring, Algorithm::halving_doubling, Algorithm::ps}) {
      std::vector<double> v(101, 0.5 + c.rank());
      allreduce(c.world(), std::span<double>(v), {a});
      for (double x : v)
        if (x != 4.5) throw std::runtime_error(std::string(to_string(a)) + " double sum wrong");
    }
  });
}

TEST(Allreduce, ShardedParameterServerAnyServerCount) {
  for (int servers : {1, 2, 3, 5, 9}) {
    Findings wrong;
    run_threads(test::threads(5), [&](Comm& c) {
      std::vector<float> v = test::filled(c.rank(), 1001);
      allreduce(c.world(), std::span<float>(v), {Algorithm::ps, servers});
      if (test::first_wrong(v, 5) >= 0) wrong.add("servers " + std::to_string(servers));
    });
    for (const std::string& w : wrong.items()) ADD_FAILURE() << w;
  }
}

TEST(Allreduce, HierarchicalOnTwoNodesOfFourAndOnSplitGroups) {
  Findings wrong;
  run_threads(test::threads(8, 4), [&](Comm& c) {
    std::vector<float> v = test::filled(c.rank(), 4099);
    allreduce(c.world(), std::span<float>(v), {Algorithm::hierarchical});
    if (test::first_wrong(v, 8) >= 0) wrong.add("world");
    // Even ranks: 2 per node on 2 nodes; their group ranks are 0..3.
    Group even = c.world().split(c.rank() % 2, c.rank(), "even");
    std::vector<float> w = test::filled(even.rank(), 333);
    allreduce(even, std::span<float>(w), {Algorithm::hierarchical});
    if (test::first_wrong(w, 4) >= 0) wrong.add("split group");
  });
  for (const std::string& w : wrong.items()) ADD_FAILURE() << w;
}

TEST(Allreduce, HierarchicalRefusesUnevenNodes) {
  try {
    run_threads(test::threads(3, 2),
                [&](Comm& c) { make_allreduce(c.world(), {Algorithm::hierarchical}); });
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("nodes of 1 2 ranks"), std::string::npos) << e.what();
  }
}

TEST(Allreduce, MpiAlgorithmNeedsMpiBackend) {
  EXPECT_THROW(
      run_threads(test::threads(2), [](Comm& c) { make_allreduce(c.world(), {Algorithm::mpi}); }),
      UsageError);
}

TEST(Allreduce, ParsesNames) {
  for (Algorithm a : kAlgorithms) EXPECT_EQ(parse_algorithm(to_string(a)), a);
  EXPECT_EQ(parse_algorithm("tree"), Algorithm::halving_doubling);
  EXPECT_THROW(parse_algorithm("rings"), UsageError);
}

}  // namespace
}  // namespace plait::comm
