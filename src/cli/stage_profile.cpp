#include "cli/stage_profile.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>

#include "balance/slowdown.h"
#include "model/gpt.h"
#include "parallel/mesh.h"
#include "tensor/blas.h"

namespace plait {
namespace {

// A whole model like opt's with `layers` blocks and one batch of B x T tokens for it.
struct Probe {
  GPT model;
  std::vector<int32_t> x, y;
  int B, T;
  Probe(GPTConfig cfg, int layers, int b, int t) : model((cfg.layers = layers, cfg)), B(b), T(t) {
    model.init_weights(1);
    x.resize(static_cast<size_t>(B) * T);
    y.resize(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] = static_cast<int32_t>(i % static_cast<size_t>(cfg.vocab));
      y[i] = static_cast<int32_t>((i + 1) % static_cast<size_t>(cfg.vocab));
    }
  }
  double fwd_bwd_s() {
    model.zero_grads();
    const auto t0 = std::chrono::steady_clock::now();
    model.forward(x.data(), y.data(), B, T);
    model.backward();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
};

}  // namespace

StageProfile profile_stages(const TrainOptions& opt, double model_head_blocks, bool measure) {
  StageProfile p;
  p.head_blocks = model_head_blocks;
  const MeshShape shape{opt.effective_dp(), opt.tp, opt.pp};
  p.scale.assign(static_cast<size_t>(opt.pp), 1.0);
  for (int r = 0; r < shape.dp * shape.tp * shape.pp; ++r) {
    double& s = p.scale[static_cast<size_t>(mesh_coord(shape, r).pp)];
    s = std::max(s, balance::slowdown_at(opt.slowdowns, r, 0));
  }
  const int M = opt.micro_batches > 0 ? opt.micro_batches : opt.pp;
  p.micro_batch = std::max(1, opt.batch / std::max(1, shape.dp) / std::max(1, M));
  if (!measure || opt.backend == comm::Backend::mpi) return p;
  const int T = opt.model.ctx;
  set_blas_threads(opt.effective_blas_threads());  // as the run will
  // Alternating, so that a burst of load hits both; the best of each.
  Probe one(opt.model, 1, p.micro_batch, T), three(opt.model, 3, p.micro_batch, T);
  one.fwd_bwd_s(), three.fwd_bwd_s();  // warm-up: first-touch pages, caches
  double t1 = std::numeric_limits<double>::infinity(), t3 = t1;
  for (int r = 0; r < 10; ++r) t1 = std::min(t1, one.fwd_bwd_s()), t3 = std::min(t3, three.fwd_bwd_s());
  const double block = (t3 - t1) / 2;
  if (!(block > 0)) return p;  // noise swamped it: the cost model
  p.measured = true;
  p.block_s = block;
  p.head_blocks = std::max(0.0, (t1 - block) / block);  // below 0: noise on a small head
  return p;
}

std::string describe(const StageProfile& p) {
  char buf[200];
  if (p.measured)
    std::snprintf(buf, sizeof buf,
                  "measured: a block %.2f ms forward+backward on a micro-batch of %d, the LM "
                  "head and embedding %.2f blocks",
                  p.block_s * 1e3, p.micro_batch, p.head_blocks);
  else
    std::snprintf(buf, sizeof buf, "cost model: the LM head counts as %.2f blocks", p.head_blocks);
  std::string s = buf;
  if (std::any_of(p.scale.begin(), p.scale.end(), [](double x) { return x != 1; })) {
    s += "; stage slowdowns";
    for (double x : p.scale) {
      std::snprintf(buf, sizeof buf, " %g", x);
      s += buf;
    }
  }
  return s;
}

}  // namespace plait
