#include "parallel/mesh_trainer.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include <nlohmann/json.hpp>

#include "comm/collectives.h"
#include "balance/split.h"
#include "parallel/dp_balance.h"
#include "parallel/mesh_worker.h"
#include "parallel/mesh_shares.h"
#include "parallel/stage_repartition.h"
#include "layout/stages.h"

namespace plait {
namespace {

using comm::Group;


// Every rank's memory report, gathered on every rank.
std::vector<RankMemory> gather_memory(Group& world, const RankMemory& mine) {
  std::vector<RankMemory> all(world.size());
  comm::allgather_bytes(world, std::as_bytes(std::span<const RankMemory>(&mine, 1)),
                        std::as_writable_bytes(std::span<RankMemory>(all)));
  return all;
}

std::string memory_line(const std::vector<RankMemory>& all) {
  size_t most = 0, model = all.empty() ? 0 : all[0].model_floats;
  int peak = 0;
  for (const auto& m : all) most = std::max(most, m.param_floats), peak = std::max(peak, m.peak_micro_batches);
  char buf[300];
  std::snprintf(buf, sizeof buf,
                "memory: the largest rank holds %.3f MB of parameters (%.3f of the model's "
                "%.3f MB; gradients and each AdamW moment the same); at most %d micro-batch%s "
                "of activations alive on a stage",
                most * 4e-6, model ? static_cast<double>(most) / model : 0.0, model * 4e-6, peak,
                peak == 1 ? "" : "es");
  return buf;
}

// The layout and every rank's memory, for the metrics log.
nlohmann::json memory_event(const std::vector<RankMemory>& all, const std::string& layout) {
  nlohmann::json ranks = nlohmann::json::array();
  for (const auto& m : all)
    ranks.push_back({{"rank", m.rank}, {"dp", m.dp}, {"tp", m.tp}, {"pp", m.pp},
                     {"param_floats", m.param_floats}, {"model_floats", m.model_floats},
                     {"peak_micro_batches", m.peak_micro_batches},
                     {"activation_floats_per_micro_batch", m.activation_floats}});
  return {{"event", "layout"}, {"layout", layout}, {"ranks", ranks}};
}

}  // namespace

TrainSummary run_mesh_rank(comm::Comm& c, const TrainOptions& opt, const RunData& data,
                           RunOutput& out) {
  MeshWorker w(c, opt, data);
  w.trace = &out.trace();
  if (w.rank == 0) w.out = &out;
  else if (out.trace().enabled()) out.trace().name_rank(w.rank);
  w.start();
  if (w.out) {
    w.out->message(w.layout_line());
    if (w.shape.dp > 1 && opt.zero == 0) w.out->message(w.sync.why + " (the data-parallel axis)");
    if (opt.zero > 0)
      w.out->message("ZeRO-" + std::to_string(opt.zero) + ": the data-parallel axis of each (tp, pp) "
                     "coordinate shards its AdamW moments" +
                     (opt.zero == 3 ? ", gradients and parameters" : opt.zero == 2 ? " and gradients" : "") +
                     " (ring reduce-scatter + allgather over the dp group)");
  }
  // Replicas (dp > 1) are measured and balanced like data parallelism: a replica is
  // one unit of every rank of its tp x pp block, its cost its slowest rank's pipeline
  // time; shares move in whole micro-batches.
  std::optional<DpBalance> balance;
  if (w.shape.dp > 1) {
    BalanceTarget t;
    t.set_share = [&w](int64_t first, int64_t count) { w.set_share(first, count); };
    t.timing = [&w] { return w.timing; };
    t.seqs = [&w] { return w.share(); };
    t.mode = opt.balance_mode();
    for (int r = 0; r < w.world.size(); ++r) t.unit_of.push_back(mesh_coord(w.shape, r).dp);
    balance::BalanceConfig cfg = balance_config(opt);
    if (opt.pp > 1) cfg.granule = w.micro_batches();
    // Equal, or by --speeds (a replica as fast as its slowest rank).
    balance.emplace(w.world, std::move(t),
                    mesh_shares(opt.batch, opt.speeds, w.shape, opt.pp > 1 ? w.micro_batches() : 1), cfg);
    if (opt.resume) balance->restore(w.resumed_extra);  // the saved split and costs
    w.balance = &*balance;
  }
  std::optional<StageRepartition> restage;  // --repartition-threshold
  if (opt.repartition_threshold > 0 && w.shape.pp > 1)
    restage.emplace(w.world, opt, w.shape, stage_sizes(opt.stages, opt.model.layers, opt.pp),
                    [&w] { return w.busy_s; });
  TrainSummary sum = run_loop(w, opt, {w.out, true, true, restage ? &*restage : nullptr}, w.step,
                              end_step(opt, w.step));
  sum.memory = gather_memory(w.world, w.memory());
  if (opt.zero > 0) {
    sum.optimizer_bytes = w.optimizer_bytes();
    sum.gradient_bytes = w.gradient_bytes();
    if (opt.zero == 3) sum.parameter_bytes = w.parameter_bytes();
  }
  w.gather_params();
  if (w.out) {
    w.out->message(memory_line(sum.memory));
    w.out->event(memory_event(sum.memory, w.layout_line()));
  }
  return sum;
}
}  // namespace plait
