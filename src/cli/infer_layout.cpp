#include "cli/infer_layout.h"

#include <algorithm>
#include <thread>

#include "comm/comm.h"
#include "fault/weights.h"
#include "infer/decoder.h"
#include "infer/mesh_decoder.h"
#include "layout/stages.h"
#include "tensor/blas.h"
#include "util/error.h"
#include "util/machine.h"

namespace plait::cli {

void add_infer_layout_options(CLI::App* cmd, InferLayout& l) {
  cmd->add_option("--tp", l.tp, "tensor-parallel ranks (heads and MLP columns split)")
      ->capture_default_str();
  cmd->add_option("--pp", l.pp, "pipeline stages (micro-batches of sequences in flight)")
      ->capture_default_str();
  cmd->add_option("--stages", l.stages, "blocks per pipeline stage, e.g. 3,3,2 (default: balanced)")
      ->delimiter(',');
  cmd->add_option("--backend", l.backend, "ranks as threads, or this process's MPI rank (mpirun)")
      ->capture_default_str();
  cmd->add_option("--blas-threads", l.blas_threads,
                  "BLAS threads per rank (0: the library's default; cores / ranks with --tp/--pp)")
      ->capture_default_str();
}

void check_infer_layout(const InferLayout& l, const GPTConfig& cfg) {
  if (l.blas_threads < 0) throw UsageError("--blas-threads must not be negative");
  if (l.tp < 1) throw UsageError("--tp must be at least 1");
  if (l.pp < 1) throw UsageError("--pp must be at least 1");
  comm::parse_backend(l.backend);
  if (!l.stages.empty()) check_stages(l.stages, l.pp, cfg.layers);
  check_model_split(cfg.layers, cfg.dim, cfg.heads, l.tp, l.pp, l.stages);
}

namespace {
int cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

// Every rank's part: rank 0 leads, the others serve its passes.
void rank_main(comm::Comm& c, const InferLayout& l, const GPTConfig& cfg,
               const infer::ShardLoader& load, int slots,
               const std::function<void(infer::StepModel&)>& lead) {
  infer::MeshDecoder mesh(c, cfg, {l.tp, l.pp, l.stages}, load, slots);
  if (!mesh.leader()) return mesh.follow();
  lead(mesh);
  mesh.finish();
}
}  // namespace

void run_generation(const InferLayout& l, const GPTConfig& cfg, std::span<const float> params,
                    int slots, const std::function<void(infer::StepModel&)>& lead) {
  if (!l.parallel()) {
    check_infer_layout(l, cfg);
    if (l.blas_threads > 0) set_blas_threads(l.blas_threads);
    infer::Decoder dec(cfg, params, slots);
    return lead(dec);
  }
  run_generation(l, cfg, infer::whole_arena_loader(cfg, params), slots, lead);
}

void run_generation(const InferLayout& l, const GPTConfig& cfg, const infer::ShardLoader& load,
                    int slots, const std::function<void(infer::StepModel&)>& lead,
                    const std::function<void()>& on_start) {
  check_infer_layout(l, cfg);
  if (!l.parallel()) {
    if (on_start) on_start();
    if (l.blas_threads > 0) set_blas_threads(l.blas_threads);
    const ShardTable whole(cfg, ShardLayout::whole(cfg));  // ParamTable(cfg)'s layout
    std::vector<float> params(whole.total());
    load(whole, params);
    infer::Decoder dec(cfg, params, slots);
    return lead(dec);
  }
  if (comm::parse_backend(l.backend) == comm::Backend::mpi) {
    comm::MpiOptions o;
    o.timeout_s = 0;  // followers wait for rank 0's next pass as long as it serves
    return comm::run_mpi(o, [&](comm::Comm& c) {
      if (on_start) on_start();
      set_blas_threads(l.blas_threads > 0 ? l.blas_threads
                                          : std::max(1, cores() / c.world().local_size()));
      rank_main(c, l, cfg, load, slots, lead);
    });
  }
  set_blas_threads(l.blas_threads > 0 ? l.blas_threads : std::max(1, cores() / (l.tp * l.pp)));
  if (on_start) on_start();
  comm::ThreadsOptions o;
  o.world = l.tp * l.pp;
  o.timeout_s = 0;
  comm::run_threads(o, [&](comm::Comm& c) { rank_main(c, l, cfg, load, slots, lead); });
}

infer::ShardLoader weights_loader(const std::string& path) {
  return [path](const ShardTable& table, std::span<float> out) {
    const WeightSource src = WeightSource::open(path);
    require_memory(sizeof(float) * double(table.total()),
                   "this rank's shard of the model of '" + src.where().string() + "'");
    read_weights(src, table, out);
  };
}

GPTConfig weights_config(const std::string& path) { return WeightSource::open(path).config(); }

}  // namespace plait::cli
