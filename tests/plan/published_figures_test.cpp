// The well-known figures, from the cost model (FLOP counts, presets, search), each
// within 10%:
//   GPT-3 175B on 300B tokens needs about 3.14e23 FLOPs (Brown et al. 2020, Table D.1);
//   on one V100 that is 355 years compute-only (Lambda Labs, 2020), and it does not fit;
//   on 1024 A100-80GB the best plan takes about 34 days (Narayanan et al. 2021, §5.1).
#include <gtest/gtest.h>

#include <cstdio>

#include "plan/flops.h"
#include "plan/search.h"

namespace plait::plan {
namespace {

constexpr double kTokens = 300e9;
constexpr double kYear = 365.25 * 86400;

const ModelSpec& gpt3() { return *find_model_preset("gpt3-175b"); }

double single_v100_years() {
  return single_device_seconds(gpt3(), find_cluster_preset("v100")->device, kTokens) / kYear;
}

PlanResult plan_on(const char* cluster, int devices) {
  PlanOptions o;
  o.devices = devices;
  o.tokens = kTokens;
  return plan(gpt3(), *find_cluster_preset(cluster), o);
}

TEST(PublishedFigures, Gpt3TrainingFlops) {
  const double flops = training_flops(gpt3(), kTokens);
  std::printf("GPT-3 175B, 300B tokens: %.3g FLOPs (6ND %.3g)\n", flops, six_n_d(gpt3(), kTokens));
  EXPECT_NEAR(flops / 3.14e23, 1.0, 0.10);
}

TEST(PublishedFigures, OneV100TakesCenturiesAndCannotHoldTheModel) {
  const double years = single_v100_years();
  std::printf("one V100, compute only: %.0f years\n", years);
  EXPECT_GE(years, 350);
  EXPECT_NEAR(years / 355, 1.0, 0.10);
  const PlanResult r = plan_on("v100", 1);
  EXPECT_FALSE(r.decision.fits_one_device);
  EXPECT_TRUE(r.ranked.empty());
  EXPECT_FALSE(r.recommended.has_value());
}

TEST(PublishedFigures, ThousandA100sTakeAboutAMonth) {
  const PlanResult r = plan_on("a100-80gb", 1024);
  ASSERT_TRUE(r.recommended.has_value());
  const Candidate& best = r.ranked[*r.recommended];
  EXPECT_EQ(&best, &r.ranked.front());  // the tree's choice (hybrid) is also the fastest
  const double speedup = single_v100_years() * kYear / (best.days * 86400);
  std::printf(
      "1024 A100s: dp%d tp%d pp%d b%d M%d recompute %s: %.1f days, MFU %.1f%%; "
      "%.0fx faster than one V100\n",
      best.layout.dp, best.layout.tp, best.layout.pp, best.layout.micro_batch,
      best.layout.micro_batches, to_string(best.layout.recompute), best.days,
      100 * best.cost.mfu, speedup);
  EXPECT_NEAR(best.days / 34, 1.0, 0.10);
  EXPECT_LE(best.cost.memory.total(), r.decision.usable_memory);
  EXPECT_EQ(r.decision.strategy, Strategy::hybrid);
  EXPECT_GT(speedup, 1000);
}

}  // namespace
}  // namespace plait::plan
