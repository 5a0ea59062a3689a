// bench_mesh (parallel/bench.h): timed steps of one layout on random bytes,
// with each stage's busy and idle time.
#include <algorithm>
#include <chrono>

#include "parallel/bench.h"
#include "parallel/launch.h"
#include "parallel/mesh_worker.h"
#include "parallel/train_bench.h"

namespace plait {
namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

MeshBench bench_mesh(const TrainOptions& o, int warmup, int steps) {
  TrainOptions opt = o;
  opt.resume = false;
  opt.checkpoint_dir.clear();
  opt.validate();
  const RunData data(opt, random_corpus(opt));
  std::vector<double> step0;
  std::vector<double> idle(opt.workers, 0), stage_of(opt.workers, 0);
  std::vector<double> fwd(opt.workers, 0), bwd(opt.workers, 0);  // s per micro-batch
  std::vector<double> phase(opt.workers, 0);                      // s per step
  comm::run_threads(threads_options(opt), [&](comm::Comm& c) {
    MeshWorker w(c, opt, data);
    w.start();
    double norm = 0;
    for (int i = 0; i < warmup; ++i) w.train_step(norm);
    w.busy_s = w.pipeline_s = w.fwd_s = w.bwd_s = 0;
    w.fwd_n = w.bwd_n = 0;
    std::vector<double> times;
    for (int i = 0; i < steps; ++i) {
      const auto t0 = Clock::now();
      w.train_step(norm);
      times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    idle[w.rank] = w.pipeline_s > 0 ? 1.0 - w.busy_s / w.pipeline_s : 0;  // own slot
    stage_of[w.rank] = w.me.pp;
    fwd[w.rank] = w.fwd_n > 0 ? w.fwd_s / static_cast<double>(w.fwd_n) : 0;
    bwd[w.rank] = w.bwd_n > 0 ? w.bwd_s / static_cast<double>(w.bwd_n) : 0;
    phase[w.rank] = w.pipeline_s / std::max(1, steps);
    if (w.rank == 0) step0 = std::move(times);
  });
  MeshBench b;
  b.median_step_s = median(step0);
  b.tokens_per_s = static_cast<double>(opt.batch) * opt.model.ctx / b.median_step_s;
  b.stage_bubble.assign(opt.pp, 0);
  b.stage_forward_s.assign(opt.pp, 0);
  b.stage_backward_s.assign(opt.pp, 0);
  b.stage_phase_s.assign(opt.pp, 0);
  std::vector<int> count(opt.pp, 0);
  for (int r = 0; r < opt.workers; ++r) {
    const int s = static_cast<int>(stage_of[r]);
    b.stage_bubble[s] += idle[r];
    b.stage_forward_s[s] += fwd[r];
    b.stage_backward_s[s] += bwd[r];
    b.stage_phase_s[s] += phase[r];
    ++count[s];
  }
  for (int s = 0; s < opt.pp; ++s) {
    b.stage_bubble[s] /= std::max(1, count[s]);
    b.stage_forward_s[s] /= std::max(1, count[s]);
    b.stage_backward_s[s] /= std::max(1, count[s]);
    b.stage_phase_s[s] /= std::max(1, count[s]);
    b.bubble += b.stage_bubble[s] / opt.pp;
  }
  return b;
}

}  // namespace plait
