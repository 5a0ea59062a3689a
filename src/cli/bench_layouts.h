// plait bench train with a model-parallel layout (--tp/--pp, docs/MODEL_PARALLEL.md)
// or several layouts compared in one run (--compare dp2,tp2,pp2).
#pragma once
#include <string>
#include <vector>

#include "parallel/train_options.h"

namespace plait::cli {

struct LayoutBenchArgs {
  TrainOptions base;  // model, batch, BLAS threads, sync, layout (workers = dp*tp*pp)
  int warmup = 2;
  int steps = 8;      // timed steps per round
  int rounds = 1;     // repetitions; figures are medians over them
  bool json = false;
};

// One dp x tp x pp layout (base's): tokens/s, and per stage the measured bubble, the
// forward/backward cost per micro-batch, the bubble over the pipeline's makespan, the
// ideal (P-1)/(M+P-1) and simulate_pipeline() with the measured costs.
int run_bench_layout(const LayoutBenchArgs& a);

// A layout's name: factors "dp"N, "tp"N, "pp"N in any order, optionally joined by
// '.', 'x' or '*' ("tp2pp2", "dp2.tp2", "dp4"); each axis at most once; an absent axis
// is 1. UsageError otherwise.
struct LayoutName {
  int dp = 1, tp = 1, pp = 1;
};
LayoutName parse_layout_name(const std::string& name);

// Every layout in `names` (the first is the baseline) on base's model and batch, taking
// turns round by round (the order rotates each round), so a change of the machine's
// load hits them alike; each layout's tokens/s over the baseline's is taken within a
// round, and the median over rounds is reported. Pure data-parallel layouts run the
// data-parallel trainer (bench_data_parallel); the others run bench_mesh.
// base.micro_batches/stages/schedule apply to layouts with a pipeline only. A
// pipeline layout's "bubble" is bench_mesh's (each stage's own phase, mean of stages).
int run_bench_compare(const LayoutBenchArgs& a, const std::vector<std::string>& names);

}  // namespace plait::cli
