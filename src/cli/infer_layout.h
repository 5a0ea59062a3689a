// The model-parallel layout of `plait sample` and `plait serve` (--tp, --pp, --stages,
// --backend, --blas-threads) and the one place that starts generation's ranks: one
// worker steps an infer::Decoder; a tp x pp layout starts tp*pp ranks (threads of this
// process, or this process's rank under `mpirun --backend mpi`), each holding its
// shard (infer/mesh_decoder.h), and world rank 0 runs `lead` while the others follow.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "infer/mesh_decoder.h"
#include "infer/step_model.h"
#include "model/config.h"

namespace plait::cli {

struct InferLayout {
  int tp = 1, pp = 1;
  std::vector<int> stages;
  std::string backend = "threads";
  int blas_threads = 0;  // 0: the library's default (one worker), cores / ranks (threads)
  bool parallel() const { return tp * pp > 1 || backend == "mpi"; }
};

void add_infer_layout_options(CLI::App* cmd, InferLayout& l);
// UsageError naming the flag (before any rank starts).
void check_infer_layout(const InferLayout& l, const GPTConfig& cfg);

// Runs lead(model) with `slots` sequence slots over `params` (the whole model's arena)
// in the layout; returns on every rank once lead has returned. Under MPI, lead runs on
// rank 0 only (the others print nothing).
void run_generation(const InferLayout& l, const GPTConfig& cfg, std::span<const float> params,
                    int slots, const std::function<void(infer::StepModel&)>& lead);
// The same, each rank filling its own shard with `load` (one worker: the whole model).
// `on_start` (if set) runs on every rank first, under MPI after MPI_Init (which may
// install its own signal handlers): serve catches SIGTERM there.
void run_generation(const InferLayout& l, const GPTConfig& cfg, const infer::ShardLoader& load,
                    int slots, const std::function<void(infer::StepModel&)>& lead,
                    const std::function<void()>& on_start = {});

// Reads only the table's boxes from the weights at `path` (a run or checkpoint
// directory, or a safetensors file: fault/weights.h), each rank opening the files
// itself: a model too large for one process loads, rank by rank.
infer::ShardLoader weights_loader(const std::string& path);

// The model config of the weights at `path`, without reading the tensors.
GPTConfig weights_config(const std::string& path);

}  // namespace plait::cli
