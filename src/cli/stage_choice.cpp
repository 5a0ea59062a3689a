#include "cli/stage_choice.h"

#include <algorithm>
#include <cstdio>

#include "cli/model_spec_of.h"
#include "plan/auto_stages.h"
#include "plan/memory_model.h"
#include "util/error.h"
#include "util/machine.h"

namespace plait {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

double limit_bytes(const TrainOptions& opt) {
  if (opt.stage_memory_gib > 0) return opt.stage_memory_gib * kGiB;
  if (opt.backend == comm::Backend::mpi) return 0;
  return available_memory_bytes() / std::max(1, opt.workers);
}

std::string mib(double bytes) {
  if (bytes >= kGiB) return gib(bytes);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3g MiB", bytes / (1024.0 * 1024.0));
  return buf;
}

}  // namespace

StageCosts stage_costs(const TrainOptions& opt, const plan::ModelSpec& m, const StageProfile& p) {
  StageCosts c;
  c.scale = p.scale;
  c.extra.assign(p.scale.size(), 0.0);
  c.extra.back() = p.head_blocks;
  plan::RunFlags f = run_flags_of(opt);
  f.stages.clear();
  plan::Layout l = plan::layout_from_flags(m, f);
  const size_t P = static_cast<size_t>(l.pp);
  // Memory is linear in a stage's blocks: its value at 1 and 2 blocks gives both terms.
  auto at = [&](int k, size_t s) {
    l.stages.assign(P, k);
    return plan::plait_stage_memory(m, l, static_cast<int>(s), opt.zero).total();
  };
  for (size_t s = 0; s < P; ++s) {
    const double one = at(1, s), two = at(2, s);
    c.block_bytes.push_back(two - one);
    c.fixed_bytes.push_back(one - (two - one));
  }
  c.limit_bytes = limit_bytes(opt);
  c.micro_batches = opt.micro_batches > 0 ? opt.micro_batches : opt.pp;  // the least step
  c.schedule = opt.schedule;
  return c;
}

StageCosts repartition_costs(const TrainOptions& opt) {
  TrainOptions probe = opt;
  resolve_tokenizer(probe);
  const plan::ModelSpec m = model_spec_of(probe.model, opt.batch, "train", "--repartition-threshold");
  StageProfile p;  // the cost model's head; the scale is measured during the run
  p.scale.assign(static_cast<size_t>(opt.pp), 1.0);
  p.head_blocks = plan::auto_stages(m, opt.pp).head_blocks;
  return stage_costs(probe, m, p);
}

StageChoice choose_stages(const TrainOptions& opt) {
  TrainOptions probe = opt;
  resolve_tokenizer(probe);  // the head's cost and memory depend on the vocabulary
  const plan::ModelSpec m = model_spec_of(probe.model, opt.batch, "train", "--stages auto");
  const plan::AutoStages model = plan::auto_stages(m, opt.pp);
  // auto: the cost model's head; profile: a measured block and head (stage_profile.h).
  const StageProfile p = profile_stages(probe, model.head_blocks, opt.stages_profile);
  const StageCosts c = stage_costs(probe, m, p);
  StageChoice ch;
  const char* mode = opt.stages_profile ? "profile" : "auto";
  try {
    ch.part = partition_stages(opt.model.layers, c);
  } catch (const UsageError& e) {
    throw UsageError(std::string("--stages ") + mode + ": " + e.what() + " (" +
                     (opt.stage_memory_gib > 0 ? "--stage-memory" : "the available memory / the workers") +
                     "; try more stages, --recompute, fewer --micro-batches or a larger --stage-memory)");
  }
  std::string mem = "memory: busiest stage " + mib(ch.part.peak_bytes);
  if (c.limit_bytes > 0) mem += " of " + mib(c.limit_bytes) + " per stage";
  if (ch.part.memory_bound())
    mem += "; the fastest split " + stages_string(ch.part.fastest) + " needs " +
           mib(ch.part.fastest_peak_bytes) + ", over the limit";
  char step[160];
  std::snprintf(step, sizeof step,
                "; predicted %s step of %d micro-batches %.3g block-times, busiest stage %.3g",
                to_string(c.schedule), c.micro_batches, ch.part.step, ch.part.busiest);
  ch.line = std::string("stages ") + mode + ": " + stages_string(ch.part.sizes) + " (" +
            describe(p) + "; " + mem + step + "; docs/BALANCE.md)";
  return ch;
}

}  // namespace plait
