#include "plan/train_command.h"

#include <cmath>

#include "layout/stages.h"

namespace plait::plan {
namespace {

void add(std::vector<std::string>& argv, const char* flag, long long value) {
  argv.push_back(flag);
  argv.push_back(std::to_string(value));
}

}  // namespace

int train_zero_stage(const ModelSpec& m, const Layout& l, int zero) {
  if (zero < 3 || l.dp <= 1) return zero;
  // train's --zero 3 needs as many micro-batches on every replica (train_options.cpp)
  const long long D = l.dp, lo = m.batch / D, hi = (m.batch + D - 1) / D;
  const bool mesh = l.tp > 1 || l.pp > 1;
  const long long mb = !mesh && l.micro_batches > 1 ? l.micro_batch : hi;
  return lo > 0 && (lo + mb - 1) / mb == (hi + mb - 1) / mb ? 3 : 2;
}

namespace {

// The flags both commands share: model, batch, steps, mesh, micro-batching, sync.
std::vector<std::string> common_flags(const ModelSpec& m, const Layout& l, double tokens,
                                      bool mpi, int zero) {
  std::vector<std::string> a;
  add(a, "--layers", m.layers);
  add(a, "--dim", m.dim);
  add(a, "--heads", m.heads);
  add(a, "--ctx", m.ctx);
  add(a, "--batch", m.batch);
  const double per_step = static_cast<double>(m.batch) * m.ctx;
  add(a, "--steps", std::max(1LL, static_cast<long long>(std::ceil(tokens / per_step))));
  const bool mesh = l.tp > 1 || l.pp > 1;
  if (mesh) {
    add(a, "--dp", l.dp);
    if (l.tp > 1) add(a, "--tp", l.tp);
    if (l.pp > 1) add(a, "--pp", l.pp);
    if (l.pp > 1 && !l.stages.empty() && l.stages != balance_stages(m.layers, l.pp)) {
      std::string list;
      for (int s : l.stages) {
        if (!list.empty()) list += ',';
        list += std::to_string(s);
      }
      a.insert(a.end(), {"--stages", list});
    }
  } else if (!mpi) {
    add(a, "--workers", l.dp);
  }
  if (l.pp > 1) {
    add(a, "--micro-batches", l.micro_batches);
    a.insert(a.end(), {"--schedule", to_string(l.schedule)});
  } else if (l.micro_batches > 1) {
    add(a, "--micro-batch", l.micro_batch);
  }
  // ZeRO on the data-parallel axis of any layout: it reduce-scatters and gathers
  // itself (no --sync)
  if (zero >= 1 && l.dp > 1) add(a, "--zero", train_zero_stage(m, l, zero));
  else if (l.dp > 1) a.insert(a.end(), {"--sync", to_string(l.sync)});
  if (l.recompute != Recompute::none)
    a.insert(a.end(), {"--recompute", l.recompute == Recompute::full ? "block" : "selective"});
  return a;
}

}  // namespace

TrainCommand train_command(const ModelSpec& m, const ClusterSpec& c, const Layout& l,
                           double tokens, int zero_stage) {
  TrainCommand t;
  const std::string dir = "runs/" + (m.name.empty() ? std::string("plan") : m.name);
  t.argv = {"build/plait", "train"};
  for (auto& f : common_flags(m, l, tokens, false, zero_stage)) t.argv.push_back(f);
  if (l.devices() > c.devices_per_node) add(t.argv, "--ranks-per-node", c.devices_per_node);
  t.argv.insert(t.argv.end(), {"--checkpoint-dir", dir});
  t.mpi_argv = {"mpirun", "-np", std::to_string(l.devices()), "build/plait", "train",
                "--backend", "mpi"};
  for (auto& f : common_flags(m, l, tokens, true, zero_stage)) t.mpi_argv.push_back(f);
  t.mpi_argv.insert(t.mpi_argv.end(), {"--checkpoint-dir", dir});
  if (zero_stage >= 3 && l.dp > 1 && train_zero_stage(m, l, zero_stage) != zero_stage)
    t.notes.push_back("the plan assumes ZeRO stage 3; the batch of " + std::to_string(m.batch) +
                      " gives the " + std::to_string(l.dp) + " replicas unequal micro-batch "
                      "counts, which train's --zero 3 refuses, so the command runs --zero 2 "
                      "(whole parameters on every rank)");
  if (m.batch % l.dp != 0 && (l.tp > 1 || l.pp > 1))
    t.notes.push_back("the plan splits the batch of " + std::to_string(m.batch) + " unevenly over " +
                      std::to_string(l.dp) + " replicas; plait train's mesh needs --batch to " +
                      "divide (data parallelism alone takes uneven shares)");
  if (!m.tied_embeddings || m.gated_mlp || m.positions != Positions::learned ||
      m.kv_dim() != m.dim || m.ffn_dim() != 4 * m.dim)
    t.notes.push_back("plait train builds the GPT-2 shape; the plan's model differs (" +
                      std::string(m.gated_mlp ? "SwiGLU, " : "") + "ffn " +
                      std::to_string(m.ffn_dim()) + ", " + to_string(m.positions) +
                      " positions, " + std::to_string(m.kv_heads_count()) + " kv heads" +
                      (m.tied_embeddings ? "" : ", untied") + ")");
  if (m.vocab != 256)
    t.notes.push_back("the plan's vocabulary is " + std::to_string(m.vocab) +
                      "; plait train's byte tokenizer has 256");
  if (l.dp > 1 && l.sync == SyncAlgorithm::ps)
    t.notes.push_back("--sync ps reduces through parameter-server shards inside the workers; "
                      "dedicated servers are --servers K");
  return t;
}

}  // namespace plait::plan
