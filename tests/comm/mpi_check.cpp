// The MPI backend's checks, run under mpirun by tests/comm/extra.cmake:
//
//   mpirun -np N comm_mpi_check [--ranks-per-node K]   every collective against its
//       closed form; exits 1 (on every rank) if any rank saw a wrong result
//   mpirun -np N comm_mpi_check --counter-only         work stealing's shared counter
//       alone, which may be absent (null on every rank) but must not abort
//   mpirun -np N comm_mpi_check --skip                  rank 1 skips an allreduce; the
//       others must fail with a timeout naming it (ctest matches the message)
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "comm/collectives.h"
#include "comm/comm.h"
#include "comm/shared_counter.h"

using namespace plait::comm;

namespace {

float value(int rank, std::size_t i) {
  return static_cast<float>((rank + 1) * static_cast<int>(i % 13 + 1));
}
float summed(int p, std::size_t i) {
  return static_cast<float>(p * (p + 1) / 2 * static_cast<int>(i % 13 + 1));
}

struct Checker {  // used by two threads of a rank at once
  int rank = 0;
  int checks = 0, failures = 0;
  std::mutex m;
  void expect(bool ok, const std::string& what) {
    std::lock_guard lock(m);
    ++checks;
    if (!ok) {
      ++failures;
      std::fprintf(stderr, "rank %d: FAILED %s\n", rank, what.c_str());
    }
  }
};

bool closed_form(const std::vector<float>& v, int p) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (v[i] != summed(p, i)) return false;
  return true;
}

void check_allreduce(Group& g, Checker& c) {
  const int p = g.size();
  for (Algorithm a : kAlgorithms) {
    if (a == Algorithm::hierarchical && !g.uniform_nodes()) continue;
    auto sync = make_allreduce(g, {a, 2});
    for (std::size_t n : {0, 1, 7, 1023, (1 << 20) + 3}) {
      std::vector<float> v(n);
      for (std::size_t i = 0; i < n; ++i) v[i] = value(g.rank(), i);
      sync->run(std::span<float>(v));
      c.expect(closed_form(v, p),
               std::string(to_string(a)) + " n=" + std::to_string(n) + " in group " + g.name());
    }
  }
}

// Random floats: every rank must end with the same bits.
void check_determinism(Group& g, Checker& c) {
  std::mt19937 rng(100 + g.rank());
  std::normal_distribution<float> dist;
  std::vector<float> input(4099);
  for (float& x : input) x = dist(rng);
  for (Algorithm a : kAlgorithms) {
    if (a == Algorithm::hierarchical && !g.uniform_nodes()) continue;
    std::vector<float> v = input;
    allreduce(g, std::span<float>(v), {a});
    std::vector<float> all(v.size() * g.size());
    allgather_bytes(g, std::as_bytes(std::span(v)), std::as_writable_bytes(std::span(all)));
    bool same = true;
    for (int r = 1; r < g.size(); ++r)
      same = same && std::memcmp(all.data(), all.data() + r * v.size(), v.size() * 4) == 0;
    c.expect(same, std::string(to_string(a)) + " bit-identical on every rank");
  }
}

void check_others(Group& g, Checker& c) {
  const int p = g.size();
  for (int root = 0; root < p; ++root) {
    std::vector<float> v(100003, g.rank() == root ? 3.0f : 0.0f);
    broadcast(g, std::as_writable_bytes(std::span(v)), root);
    c.expect(v.front() == 3.0f && v.back() == 3.0f, "broadcast from " + std::to_string(root));
  }
  std::vector<float> v(65537);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = value(g.rank(), i);
  std::span<float> mine = reduce_scatter(g, std::span<float>(v));
  const Shard s = shard_of(v.size(), p, g.rank());
  bool ok = mine.size() == s.count;
  for (std::size_t i = 0; ok && i < s.count; ++i) ok = mine[i] == summed(p, s.offset + i);
  c.expect(ok, "reduce-scatter");
  allgather(g, std::span<float>(v));
  c.expect(closed_form(v, p), "allgather");
  barrier(g);
}

void check_groups_and_p2p(Comm& comm, Checker& c) {
  Group& w = comm.world();
  Group parity = w.split(w.rank() % 2, w.rank(), "parity");
  const int expect = (w.size() + (w.rank() % 2 ? 0 : 1)) / 2;
  c.expect(parity.size() == expect, "split size");
  std::vector<float> v(1001);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = value(parity.rank(), i);
  allreduce(parity, std::span<float>(v));
  c.expect(closed_form(v, parity.size()), "allreduce on a split group");
  // Two threads of each rank: collectives on `parity`, point-to-point on the world.
  std::thread collective([&] {
    for (int i = 0; i < 20; ++i) {
      std::vector<float> u(2049, 1.0f);
      allreduce(parity, std::span<float>(u));
      c.expect(u[2048] == static_cast<float>(parity.size()), "concurrent allreduce");
    }
  });
  const int right = (w.rank() + 1) % w.size(), left = (w.rank() + w.size() - 1) % w.size();
  for (int i = 0; i < 20; ++i) {
    std::vector<int> out(3000, w.rank() * 100 + i), in(3000);
    Request r = w.irecv(left, i, std::as_writable_bytes(std::span(in)));
    w.send(right, i, std::as_bytes(std::span(out)));
    w.wait(r);
    c.expect(in[2999] == left * 100 + i, "point-to-point ring");
  }
  collective.join();
}

// Every rank learns how many ranks failed a check; rank 0 prints the verdict.
void report(Comm& comm, Checker& c, int& failed_ranks) {
  std::vector<int> fails(comm.size());
  allgather_bytes(comm.world(), std::as_bytes(std::span(&c.failures, 1)),
                  std::as_writable_bytes(std::span(fails)));
  for (int f : fails) failed_ranks += f > 0;
  if (comm.rank() == 0)
    std::printf("mpi_check: %d checks per rank on %d ranks (%d nodes): %s\n", c.checks,
                comm.size(), comm.world().node_count(), failed_ranks ? "FAILED" : "all passed");
}

// Work stealing's counter (comm/shared_counter.h) over the RMA window: every rank
// claims pieces of rank + 1 by compare-and-swap until the range is gone; the pieces
// cover it exactly once, the counter stops at its end and fetch_add loses no add.
// may_be_absent: MPI may lack an RMA window (then null on every rank, not an abort).
void check_shared_counter(Group& g, Checker& c, bool may_be_absent = false) {
  constexpr int64_t kRange = 3000;
  auto counter = make_shared_counter(g, g.size());
  std::vector<int> made(g.size());
  const int mine = counter != nullptr;
  allgather_bytes(g, std::as_bytes(std::span(&mine, 1)), std::as_writable_bytes(std::span(made)));
  c.expect(std::count(made.begin(), made.end(), mine) == g.size(),
           "a shared counter on every rank or on none");
  c.expect(counter != nullptr || may_be_absent, "a shared counter on an MPI group");
  if (!counter) {
    if (g.rank() == 0) std::printf("mpi_check: no shared counter (no RMA window)\n");
    return;
  }
  std::vector<float> taken(kRange, 0.0f);
  for (int64_t at = 0; at < kRange;) {
    const int64_t n = std::min<int64_t>(kRange - at, g.rank() + 1);
    const int64_t was = counter->compare_and_swap(at, at + n);
    if (was != at) {
      c.expect(was > at && was <= kRange, "compare-and-swap returned a value in range");
      if (was <= at) return;
      at = was;
      continue;
    }
    for (int64_t i = at; i < at + n; ++i) taken[i] += 1.0f;
    at += n;
  }
  allreduce(g, std::span<float>(taken));
  bool once = true;
  for (float t : taken) once = once && t == 1.0f;
  c.expect(once, "compare-and-swap claims cover the range exactly once");
  barrier(g);
  c.expect(counter->fetch_add(0) == kRange, "the counter stops at the range's end");
  barrier(g);
  counter->fetch_add(1);
  barrier(g);
  c.expect(counter->fetch_add(0) == kRange + g.size(), "fetch_add loses no add");
  // The board beside the counter (work stealing's free times): each rank stores into
  // its own slot while the others read; a read is 0 or a value stored there, and after
  // a barrier every rank reads every rank's last value; the counter does not move.
  std::vector<int64_t> seen(static_cast<size_t>(g.size()));
  bool whole = true;
  for (int64_t i = 1; i <= 200; ++i) {
    counter->store(g.rank(), (int64_t{g.rank()} + 1) << 40 | i);
    counter->load(seen);
    for (int r = 0; r < g.size(); ++r) {
      const int64_t v = seen[static_cast<size_t>(r)];
      whole = whole && (v == 0 || ((v >> 40) == r + 1 && (v & 0xffff) >= 1 && (v & 0xffff) <= 200));
    }
  }
  c.expect(whole, "a board slot reads 0 or a value its rank stored");
  barrier(g);
  counter->load(seen);
  bool last = true;
  for (int r = 0; r < g.size(); ++r)
    last = last && seen[static_cast<size_t>(r)] == ((int64_t{r} + 1) << 40 | 200);
  c.expect(last, "after a barrier every board slot holds its rank's last store");
  c.expect(counter->fetch_add(0) == kRange + g.size(), "the board leaves the counter alone");
  barrier(g);  // every rank has read before the window is freed (collective)
}

// counter_only: the shared counter alone, which may be absent (the ctest that runs it
// restricts OpenMPI to osc components that cannot make its window here).
int run_checks(const MpiOptions& o, bool counter_only) {
  int failed_ranks = 0;
  run_mpi(o, [&](Comm& comm) {
    Checker c;
    c.rank = comm.rank();
    if (counter_only) {
      check_shared_counter(comm.world(), c, true);
      return report(comm, c, failed_ranks);
    }
    check_allreduce(comm.world(), c);
    check_determinism(comm.world(), c);
    check_others(comm.world(), c);
    check_groups_and_p2p(comm, c);
    check_shared_counter(comm.world(), c);
    {
      Group halves = comm.world().split(comm.rank() % 2, comm.rank(), "halves");
      check_shared_counter(halves, c);  // a split group's window (1 rank at -np 2)
    }
    report(comm, c, failed_ranks);
  });
  return failed_ranks ? 1 : 0;
}

int run_skip(MpiOptions o) {
  o.timeout_s = 0.5;
  run_mpi(o, [](Comm& comm) {
    barrier(comm.world());
    std::vector<float> v(1000, 1.0f);
    if (comm.rank() == 1) {
      std::this_thread::sleep_for(std::chrono::seconds(10));  // mpirun ends it first
      return;
    }
    allreduce(comm.world(), std::span<float>(v));
  });
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  MpiOptions o;
  bool skip = false, counter_only = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--skip") == 0)
      skip = true;
    else if (std::strcmp(argv[i], "--counter-only") == 0)
      counter_only = true;
    else if (std::strcmp(argv[i], "--ranks-per-node") == 0 && i + 1 < argc)
      o.ranks_per_node = std::atoi(argv[++i]);
  }
  try {
    return skip ? run_skip(o) : run_checks(o, counter_only);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mpi_check: error: %s\n", e.what());
    return 1;
  }
}
