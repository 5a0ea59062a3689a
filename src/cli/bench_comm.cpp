// `plait bench comm`: allreduce speed of each algorithm, against two yardsticks taken
// in the same run: this machine's memcpy bandwidth at the same size, and the α-β
// prediction of plan::allreduce_cost for the emulated links (threads backend with
// --intra-link / --inter-link). Under `mpirun ... --backend mpi`, `--algo mpi` is
// OpenMPI's own MPI_Allreduce.
//
// Definitions (nccl-tests): time is the slowest rank's time for one allreduce (the
// median over --reps, each started after a barrier; with several algorithms they take
// turns rep by rep); algbw = size / time; busbw =
// algbw · 2(n-1)/n, the bandwidth a link must sustain. Each (size, algorithm) is first
// run once on closed-form data and checked: a wrong sum is an error (exit 1).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/machine_checks.h"
#include "cli/registry.h"
#include "comm/collectives.h"
#include "comm/comm.h"
#include "layout/sync.h"
#include "plan/collective_cost.h"
#include "plan/units.h"
#include "util/error.h"
#include "util/link.h"
#include "util/machine.h"
#include "util/stats.h"

namespace plait::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchCommFlags {
  std::string algo = "ring";
  int workers = 0;  // threads: default 2; mpi: the job's size
  std::string backend = "threads";
  int ranks_per_node = 0;
  std::string intra_link, inter_link;
  int servers = 1;
  std::string sizes = "4K:64M";
  int reps = 10, warmup = 2;
  bool json = false;
  double timeout = comm::kDefaultTimeoutSeconds;
};

// The validated flags.
struct Setup {
  comm::Backend backend = comm::Backend::threads;
  std::vector<comm::Algorithm> algos;
  std::vector<std::size_t> sizes;  // bytes, multiples of 4
  int workers = 0, ranks_per_node = 0, servers = 1, reps = 10, warmup = 2;
  LinkSpec intra, inter;
  bool emulated = false;
  double timeout = 60;
};

struct Row {
  std::size_t bytes = 0;
  comm::Algorithm algo{};
  double seconds = 0;     // median over reps of the slowest rank
  double memcpy_Bps = 0;  // median memcpy bandwidth at this size, one thread
  double predicted = 0;   // α-β prediction; 0 when there is none
};

// ---- flags --------------------------------------------------------------------------

// "4096", "4K", "64M", "1G", "2MiB": binary multiples.
std::size_t parse_size(const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  const std::string unit(end);
  double mult = 0;
  for (auto [name, m] : {std::pair{"", 1.0},
                         {"B", 1.0},
                         {"K", 1024.0},
                         {"KiB", 1024.0},
                         {"M", 1048576.0},
                         {"MiB", 1048576.0},
                         {"G", 1073741824.0},
                         {"GiB", 1073741824.0}})
    if (unit == name) mult = m;
  if (end == text.c_str() || mult == 0 || !(v > 0) || !std::isfinite(v))
    throw UsageError("--sizes: '" + text + "' is not a size (e.g. 4096, 4K, 64M, 1G)");
  if (v * mult > 1099511627776.0)
    throw UsageError("--sizes: '" + text + "' is over 1 TiB");
  const auto bytes = static_cast<std::size_t>(v * mult) / 4 * 4;
  if (bytes == 0) throw UsageError("--sizes: '" + text + "' is less than one float");
  return bytes;
}

// "MIN:MAX" (doubling from MIN up to MAX) or a comma-separated list.
std::vector<std::size_t> parse_sizes(const std::string& text) {
  std::vector<std::size_t> out;
  if (auto colon = text.find(':'); colon != std::string::npos) {
    const std::size_t lo = parse_size(text.substr(0, colon)),
                      hi = parse_size(text.substr(colon + 1));
    if (hi < lo) throw UsageError("--sizes: '" + text + "' ends below where it starts");
    for (std::size_t s = lo; s <= hi; s *= 2) out.push_back(s);
    return out;
  }
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    out.push_back(parse_size(text.substr(start, comma - start)));
    start = comma + 1;
  }
  return out;
}

// "all" (every algorithm the backend has), one name, or a comma-separated list.
std::vector<comm::Algorithm> parse_algos(const std::string& text, comm::Backend backend) {
  std::vector<comm::Algorithm> out;
  if (text == "all") {
    for (comm::Algorithm a : comm::kAlgorithms)
      if (a != comm::Algorithm::mpi || backend == comm::Backend::mpi) out.push_back(a);
    return out;
  }
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const comm::Algorithm a = comm::parse_algorithm(text.substr(start, comma - start));
    if (a == comm::Algorithm::mpi && backend != comm::Backend::mpi)
      throw UsageError("--algo mpi needs --backend mpi (under mpirun)");
    out.push_back(a);
    start = comma + 1;
  }
  return out;
}

Setup validate(const BenchCommFlags& f) {
  Setup s;
  s.backend = comm::parse_backend(f.backend);
  s.algos = parse_algos(f.algo, s.backend);
  s.sizes = parse_sizes(f.sizes);
  s.workers = f.workers > 0 ? f.workers : 2;
  s.ranks_per_node = f.ranks_per_node;
  s.servers = f.servers;
  s.reps = f.reps;
  s.warmup = f.warmup;
  s.timeout = f.timeout;
  if (!f.intra_link.empty()) s.intra = parse_link(f.intra_link);
  if (!f.inter_link.empty()) s.inter = parse_link(f.inter_link);
  s.emulated = !f.intra_link.empty() || !f.inter_link.empty();
  if (s.emulated && s.backend == comm::Backend::mpi)
    throw UsageError("--intra-link/--inter-link emulate links on the threads backend only");
  if (f.workers < 0) throw UsageError("--workers must be positive");
  if (f.workers > 0 && s.backend == comm::Backend::mpi)
    throw UsageError("--workers does not apply with --backend mpi: the ranks are mpirun's "
                     "processes (mpirun -np N); drop --workers");
  if (s.ranks_per_node < 0) throw UsageError("--ranks-per-node must be positive");
  if (s.backend != comm::Backend::mpi) check_threads(s.workers, "--workers");
  // Each rank holds a buffer of the largest size; the algorithms about twice as much.
  const double ranks = s.backend == comm::Backend::mpi ? 1 : s.workers;
  require_memory(3.0 * static_cast<double>(s.sizes.back()) * ranks,
                 "--sizes up to " + std::to_string(s.sizes.back()) + " bytes over " +
                     std::to_string(static_cast<long long>(ranks)) + " rank(s)");
  return s;
}

// ---- measuring ----------------------------------------------------------------------

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The largest of every rank's `x`.
double max_over_ranks(comm::Group& g, double x) {
  std::vector<double> all(g.size());
  comm::allgather_bytes(g, std::as_bytes(std::span(&x, 1)), std::as_writable_bytes(std::span(all)));
  return *std::max_element(all.begin(), all.end());
}

// memcpy bandwidth at `bytes`, measured by rank 0 alone while the others wait.
double measure_memcpy(comm::Group& g, std::size_t bytes, int reps) {
  double bw = 0;
  if (g.rank() == 0) {
    std::vector<std::byte> src(bytes, std::byte{1}), dst(bytes, std::byte{0});
    std::vector<double> t;
    for (int r = 0; r < reps + 1; ++r) {
      const auto t0 = Clock::now();
      std::memcpy(dst.data(), src.data(), bytes);
      if (r > 0) t.push_back(seconds_since(t0));  // the first copy warms up
    }
    bw = static_cast<double>(bytes) / median(t);
  }
  comm::barrier(g);
  return bw;
}

// One allreduce on closed-form data: rank r contributes (r+1)·(i%13+1).
void verify(comm::Group& g, comm::Allreduce& a, std::span<float> v, comm::Algorithm algo) {
  const int p = g.size();
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<float>((g.rank() + 1) * static_cast<int>(i % 13 + 1));
  a.run(v);
  for (std::size_t i = 0; i < v.size(); ++i)
    if (v[i] != static_cast<float>(p * (p + 1) / 2 * static_cast<int>(i % 13 + 1)))
      throw RuntimeError(std::string("bench comm: allreduce '") + comm::to_string(algo) +
                         "' gave a wrong sum at element " + std::to_string(i) + " of " +
                         std::to_string(v.size()) + " on rank " + std::to_string(g.rank()));
}

// One timed allreduce: the slowest rank's time, started after a barrier.
double time_once(comm::Group& g, comm::Allreduce& a, std::span<float> v) {
  comm::barrier(g);
  const auto t0 = Clock::now();
  a.run(v);
  return max_over_ranks(g, seconds_since(t0));
}

// Median times of every algorithm at one size. The algorithms take turns rep by rep,
// so that a change in the machine's load (it is shared) affects them alike.
std::vector<double> time_algorithms(comm::Group& g,
                                    std::vector<std::unique_ptr<comm::Allreduce>>& algos,
                                    std::span<float> v, const Setup& s) {
  std::fill(v.begin(), v.end(), 0.0f);  // sums of zeros stay zero
  for (auto& a : algos)
    for (int w = 0; w < s.warmup; ++w) a->run(v);
  std::vector<std::vector<double>> t(algos.size());
  for (int r = 0; r < s.reps; ++r)
    for (std::size_t i = 0; i < algos.size(); ++i) t[i].push_back(time_once(g, *algos[i], v));
  std::vector<double> medians;
  for (auto& ti : t) medians.push_back(median(ti));
  return medians;
}

double predict(const Setup& s, int world, comm::Algorithm a, std::size_t bytes) {
  // MPI_Allreduce's algorithm is OpenMPI's choice: no prediction
  if (!s.emulated || a == comm::Algorithm::mpi) return 0;
  plan::Topology t;
  t.world = world;
  t.ranks_per_node = s.ranks_per_node > 0 ? s.ranks_per_node : world;
  t.intra = s.intra;
  t.inter = s.inter;
  t.servers = s.servers;
  return plan::allreduce_cost(a, t, static_cast<double>(bytes)).seconds;
}

// Every rank runs this; rank 0 fills `rows`.
void bench_rank(comm::Comm& c, const Setup& s, std::vector<Row>& rows) {
  comm::Group& g = c.world();
  std::vector<std::unique_ptr<comm::Allreduce>> algos;
  for (comm::Algorithm a : s.algos) algos.push_back(comm::make_allreduce(g, {a, s.servers}));
  std::vector<float> buf(s.sizes.back() / sizeof(float), 0.0f);
  for (std::size_t bytes : s.sizes) {
    const std::span<float> v(buf.data(), bytes / sizeof(float));
    const double memcpy_Bps = measure_memcpy(g, bytes, s.reps);
    for (std::size_t i = 0; i < algos.size(); ++i) verify(g, *algos[i], v, s.algos[i]);
    const std::vector<double> t = time_algorithms(g, algos, v, s);
    for (std::size_t i = 0; i < algos.size() && g.rank() == 0; ++i)
      rows.push_back(
          {bytes, s.algos[i], t[i], memcpy_Bps, predict(s, g.size(), s.algos[i], bytes)});
  }
}

// ---- output -------------------------------------------------------------------------

double busbw(const Row& r, int world) {
  const double algbw = static_cast<double>(r.bytes) / r.seconds;
  return algbw * 2.0 * (world - 1) / world;
}

std::string describe_setup(const Setup& s, int world, int nodes) {
  std::string d = std::to_string(world) + " workers (" + comm::to_string(s.backend) + "), " +
                  std::to_string(nodes) + (nodes == 1 ? " node" : " nodes");
  if (s.emulated)
    d += ", emulated links intra " + format_link(s.intra) + " inter " + format_link(s.inter);
  return d + ", median of " + std::to_string(s.reps) + " reps";
}

void print_table(const Setup& s, const std::vector<Row>& rows, int world, int nodes) {
  std::printf("plait bench comm: allreduce of float32, %s\n",
              describe_setup(s, world, nodes).c_str());
  std::printf("%10s  %-17s %10s %11s %11s %11s %8s %10s %9s\n", "size", "algorithm", "time",
              "algbw GB/s", "busbw GB/s", "memcpy GB/s", "bus/mem", "predicted", "meas/pred");
  for (const Row& r : rows) {
    const double algbw = static_cast<double>(r.bytes) / r.seconds, bus = busbw(r, world);
    std::printf("%10s  %-17s %10s %11.3f %11.3f %11.2f %8.3f %10s %9s\n",
                plan::human_bytes(static_cast<double>(r.bytes)).c_str(), comm::to_string(r.algo),
                plan::human_seconds(r.seconds).c_str(), algbw / 1e9, bus / 1e9, r.memcpy_Bps / 1e9,
                bus / r.memcpy_Bps,
                r.predicted > 0 ? plan::human_seconds(r.predicted).c_str() : "-",
                r.predicted > 0 ? plan::fixed(r.seconds / r.predicted, 2).c_str() : "-");
  }
}

void print_json(const Setup& s, const std::vector<Row>& rows, int world, int nodes) {
  nlohmann::json j;
  j["command"] = "bench comm";
  j["backend"] = comm::to_string(s.backend);
  j["workers"] = world;
  j["nodes"] = nodes;
  j["ranks_per_node"] = world / nodes;
  j["intra_link"] = s.emulated ? format_link(s.intra) : "";
  j["inter_link"] = s.emulated ? format_link(s.inter) : "";
  j["reps"] = s.reps;
  j["rows"] = nlohmann::json::array();
  for (const Row& r : rows) {
    const double algbw = static_cast<double>(r.bytes) / r.seconds, bus = busbw(r, world);
    nlohmann::json row = {{"bytes", r.bytes},
                          {"algorithm", comm::to_string(r.algo)},
                          {"time_s", r.seconds},
                          {"algbw_GBps", algbw / 1e9},
                          {"busbw_GBps", bus / 1e9},
                          {"memcpy_GBps", r.memcpy_Bps / 1e9},
                          {"busbw_over_memcpy", bus / r.memcpy_Bps}};
    if (r.predicted > 0) {
      row["predicted_s"] = r.predicted;
      row["measured_over_predicted"] = r.seconds / r.predicted;
    }
    j["rows"].push_back(row);
  }
  std::cout << j.dump(2) << "\n";
}

int run_bench_comm(const BenchCommFlags& f) {
  const Setup s = validate(f);
  std::vector<Row> rows;
  int world = 0, nodes = 0, rank = 0;
  auto body = [&](comm::Comm& c) {
    if (c.rank() == 0) world = c.size(), nodes = c.world().node_count();
    if (s.backend == comm::Backend::mpi) rank = c.rank();
    bench_rank(c, s, rows);
  };
  if (s.backend == comm::Backend::mpi) {
    comm::run_mpi({s.ranks_per_node, s.timeout}, body);
  } else {
    comm::ThreadsOptions o;
    o.world = s.workers;
    o.ranks_per_node = s.ranks_per_node;
    o.intra = s.intra;
    o.inter = s.inter;
    o.timeout_s = s.timeout;
    comm::run_threads(o, body);
  }
  if (rank != 0) return 0;
  if (f.json)
    print_json(s, rows, world, nodes);
  else
    print_table(s, rows, world, nodes);
  return 0;
}

Registrar reg("bench comm", [](Context& ctx) {
  auto f = std::make_shared<BenchCommFlags>();
  CLI::App* cmd = ctx.bench.add_subcommand(
      "comm", "allreduce time, algbw and busbw per algorithm, against memcpy and the α-β model");
  cmd->add_option(
      "--algo", f->algo,
      algorithm_names() + "; a list A,B; or all (default ring)");
  cmd->add_option("--workers", f->workers, "ranks (threads backend; default 2)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--backend", f->backend, "threads (default) or mpi (run under mpirun)");
  cmd->add_option("--ranks-per-node", f->ranks_per_node,
                  "consecutive ranks per node (default: one node; mpi: the machines)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--intra-link", f->intra_link,
                  "emulated link within a node, LATENCY:BANDWIDTH (e.g. 2us:10GB/s)");
  cmd->add_option("--inter-link", f->inter_link,
                  "emulated link between nodes, LATENCY:BANDWIDTH (e.g. 50us:1GB/s)");
  cmd->add_option("--servers", f->servers, "parameter-server shards for ps (default 1)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--sizes", f->sizes, "MIN:MAX doubling, or a list A,B,C (default 4K:64M)");
  cmd->add_option("--reps", f->reps, "timed repetitions per size (default 10)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--warmup", f->warmup, "untimed repetitions first (default 2)")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--timeout", f->timeout, "seconds any wait may block (default 60)")
      ->check(CLI::PositiveNumber);
  add_oversubscribe_flag(cmd);
  cmd->add_flag("--json", f->json, "machine-readable output");
  cmd->callback([&ctx, f] { ctx.rc = run_bench_comm(*f); });
});

}  // namespace
}  // namespace plait::cli
