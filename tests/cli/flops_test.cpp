// One FLOP count (plan/flops.h) for the planner and `plait bench train`: it counts
// exactly the matrix products the model runs, and bench train reports it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/model_spec_of.h"
#include "model/params.h"
#include "plan/flops.h"
#include "run_plait.h"

namespace plait::test {
namespace {

// 6 FLOPs per token for every weight of a matrix product (forward 2, backward 4):
// the 2-D tensors of the parameter table but wpe (a lookup), wte once (it is the
// head) and without its padding rows (never a real token), plus attention's
// q·kᵀ and att·v over the full T×T square, forward and backward: 12·L·T·C.
double count_from_the_table(const GPTConfig& c) {
  const ParamTable t(c);
  double matrix = 0;
  for (const ParamSpec& s : t.specs())
    if (s.shape.size() == 2 && s.name != "transformer.wpe.weight") matrix += s.size;
  matrix -= static_cast<double>(c.padded_vocab() - c.vocab) * c.dim;
  return 6 * matrix + 12.0 * c.layers * c.ctx * c.dim;
}

TEST(Flops, ThePlannersCountIsTheModelsMatrixProducts) {
  for (const GPTConfig& c : {GPTConfig{256, 128, 4, 128, 4}, GPTConfig{50257, 1024, 12, 768, 12},
                             GPTConfig{300, 64, 3, 96, 6}}) {
    const double plan = plan::training_flops_per_token(model_spec_of(c, 8, "t", "test"));
    EXPECT_DOUBLE_EQ(plan, count_from_the_table(c)) << c.to_json().dump();
  }
}

TEST(Flops, BenchTrainReportsThePlannersCount) {
  const Result r = run_plait(
      "bench train --layers 2 --dim 32 --heads 2 --ctx 16 --batch 2 --steps 1 --peer none --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const GPTConfig c{256, 16, 2, 32, 2};
  const double flops_per_step =
      plan::training_flops_per_token(model_spec_of(c, 2, "t", "test")) * 2 * 16;
  const double step_s = j["step_ms"].get<double>() / 1e3;
  EXPECT_NEAR(j["gflops"].get<double>() * 1e9 * step_s / flops_per_step, 1.0, 1e-9);
}

}  // namespace
}  // namespace plait::test
