#include "tensor/vecmath.h"

#include <cmath>

#include "check.h"

namespace plait::test {
namespace {

namespace vec = kernels::vec;

TEST(VecMath, FloatExpIsWithinAFewUlp) {
  double worst = 0;
  for (double x = -85.9; x <= 88.0; x += 0.00731) {
    const float xf = float(x);
    const double want = std::exp(double(xf));
    worst = std::max(worst, std::abs(vec::exp(xf) - want) / want);
  }
  EXPECT_LT(worst, 3e-7);  // 2.5 ulp at float's 1.19e-7
  EXPECT_EQ(vec::exp(0.0f), 1.0f);
  EXPECT_EQ(vec::exp(-100.0f), 0.0f);
  EXPECT_TRUE(std::isfinite(vec::exp(1000.0f)));
  EXPECT_TRUE(std::isnan(vec::exp(std::nanf(""))));  // a diverged loss must stay visible
  EXPECT_TRUE(std::isnan(vec::tanh(std::nanf(""))));
}

TEST(VecMath, FloatTanhIsAccurateAndSaturates) {
  double worst = 0;
  for (double u = -20; u <= 20; u += 0.00377) {
    const float uf = float(u);
    worst = std::max(worst, std::abs(vec::tanh(uf) - std::tanh(double(uf))));
  }
  EXPECT_LT(worst, 2.5e-7);
  EXPECT_EQ(vec::tanh(50.0f), 1.0f);
  EXPECT_EQ(vec::tanh(-50.0f), -1.0f);
  EXPECT_EQ(vec::tanh(0.0f), 0.0f);
}

TEST(VecMath, ReductionsMatchLoopsForEveryLength) {
  Rng rng(81);
  const Vec x = random_vec(80, rng), y = random_vec(80, rng);
  for (int n = 1; n <= 80; n++) {
    double s = 0, d = 0, m = x[0];
    for (int i = 0; i < n; i++) s += x[i], d += x[i] * y[i], m = std::max(m, x[i]);
    ASSERT_NEAR(vec::sum(x.data(), n), s, 1e-13) << n;
    ASSERT_NEAR(vec::dot(x.data(), y.data(), n), d, 1e-13) << n;
    ASSERT_EQ(vec::max(x.data(), n), m) << n;
  }
  EXPECT_EQ(vec::sum(x.data(), 0), 0.0);
}

}  // namespace
}  // namespace plait::test
