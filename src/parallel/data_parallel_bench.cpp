// bench_data_parallel (parallel/bench.h): timed steps of data-parallel replicas on
// random bytes, with the time the compute thread waited for gradients.
#include <chrono>
#include <vector>

#include "balance/split.h"
#include "parallel/bench.h"
#include "parallel/data_parallel.h"
#include "parallel/grad_buckets.h"
#include "parallel/launch.h"
#include "parallel/train_bench.h"
#include "util/rng.h"

namespace plait {

data::Corpus random_corpus(const TrainOptions& opt) {
  const size_t n = std::max<size_t>(1 << 16, 40 * static_cast<size_t>(opt.model.ctx + 1));
  std::vector<uint8_t> bytes(n);
  Rng rng(opt.seed);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng.next_u64() % opt.model.vocab);
  return data::Corpus::from_bytes(std::move(bytes), opt.model.ctx, "random bytes");
}

namespace {

struct RankTiming {
  std::vector<double> step_s;
  double wait_s = 0;
};

// Times `steps` steps of one replica after `warmup` untimed ones.
RankTiming time_steps(Replica& r, const BucketReducer* sync, int warmup, int steps) {
  RankTiming t;
  double norm = 0;
  for (int i = 0; i < warmup; ++i) r.train_step(norm);
  const double wait0 = sync ? sync->wait_s() : 0;
  for (int i = 0; i < steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    r.train_step(norm);
    t.step_s.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  t.wait_s = sync ? sync->wait_s() - wait0 : 0;
  return t;
}

}  // namespace

DataParallelBench bench_data_parallel(const TrainOptions& o, int warmup, int steps) {
  TrainOptions opt = o;
  opt.resume = false;
  opt.validate();
  const RunData data(opt, random_corpus(opt));
  DataParallelBench res;
  std::vector<RankTiming> timings(opt.workers);
  if (opt.workers == 1) {
    Replica r(opt, data, 0, 0, opt.batch);
    r.start();
    timings[0] = time_steps(r, nullptr, warmup, steps);
  } else {
    const SyncChoice choice = choose_sync(opt);
    res.sync = to_string(choice.algorithm);
    comm::run_threads(threads_options(opt), [&](comm::Comm& c) {
      const int rank = c.rank();
      const auto shares = dp_shares(opt);
      const auto starts = balance::split_starts(shares);
      Replica r(opt, data, rank, starts[rank], shares[rank]);
      r.start();
      comm::Group world = c.world();
      BucketReducer sync(world.dup("dp-grads"), world, choice.algorithm,
                         r.model.table().total(), bucket_floats(opt), nullptr, rank);
      r.sync = &sync;
      timings[rank] = time_steps(r, &sync, warmup, steps);  // each rank its own slot
      if (rank == 0) res.buckets = sync.buckets();
    });
  }
  res.median_step_s = median(timings[0].step_s);
  res.tokens_per_s = static_cast<double>(opt.batch) * opt.model.ctx / res.median_step_s;
  double share = 0;
  for (const auto& t : timings) {
    double total = 0;
    for (double s : t.step_s) total += s;
    share += total > 0 ? t.wait_s / total : 0;
  }
  res.comm_wait_share = share / opt.workers;
  return res;
}

}  // namespace plait
