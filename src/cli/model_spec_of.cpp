#include "cli/model_spec_of.h"

#include <algorithm>

#include "balance/slowdown.h"

namespace plait {

plan::ModelSpec model_spec_of(const GPTConfig& c, int batch, const std::string& name,
                              const std::string& where) {
  plan::ModelSpec m;
  m.name = name;
  m.layers = c.layers, m.dim = c.dim, m.heads = c.heads;
  m.ctx = c.ctx, m.batch = batch, m.vocab = c.vocab;
  m.validate(where);
  return m;
}

plan::RunFlags run_flags_of(const TrainOptions& o) {
  plan::RunFlags f;
  f.workers = o.workers, f.dp = o.dp, f.tp = o.tp, f.pp = o.pp;
  f.micro_batch = o.micro_batch, f.micro_batches = o.micro_batches;
  f.schedule = o.schedule, f.sync = o.sync, f.servers = o.servers, f.stages = o.stages;
  f.recompute = o.recompute == Recompute::block       ? plan::Recompute::full
                : o.recompute == Recompute::selective ? plan::Recompute::selective
                                                      : plan::Recompute::none;
  f.zero = o.zero;
  f.bucket_mb = o.bucket_mb;
  const int world = std::max(1, o.effective_dp()) * o.tp * o.pp;  // --slowdown at step 0
  for (int r = 0; r < world; ++r)
    if (const double x = balance::slowdown_at(o.slowdowns, r, 0); x != 1) f.slowdowns.emplace_back(r, x);
  return f;
}

}  // namespace plait
