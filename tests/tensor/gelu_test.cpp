#include <cmath>

#include "check.h"
#include "tensor/kernels.h"

namespace plait::test {
namespace {

namespace k = kernels;

constexpr size_t n = 61;

struct Gelu {
  Rng rng{41};
  Vec inp = random_vec(n, rng, 6.0);  // [n], covers both tails and the bend
  Vec R = random_vec(n, rng);         // [n], dL/dout
  Vec forward() const {
    Vec out(n);
    k::gelu_forward(out.data(), inp.data(), n);
    return out;
  }
  Vec backward(Vec dinp) const {
    k::gelu_backward(dinp.data(), inp.data(), R.data(), n);
    return dinp;
  }
};

TEST(Gelu, ForwardMatchesFormula) {
  Gelu g;
  const Vec out = g.forward();
  for (size_t i = 0; i < n; i++) {
    const double x = g.inp[i];
    const double want =
        0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    ASSERT_NEAR(out[i], want, 1e-14) << x;
  }
}

TEST(Gelu, GradientMatchesFiniteDifferences) {
  Gelu g;
  const Vec dinp = g.backward(Vec(n));
  expect_gradient("dinp", g.inp, dinp, [&] { return weighted_sum(g.forward(), g.R); });
}

TEST(Gelu, BackwardAccumulates) {
  Gelu g;
  Rng rng(5);
  const Vec seed = random_vec(n, rng);
  expect_near_all("dinp", g.backward(seed), plus(seed, g.backward(Vec(n))));
}

TEST(Gelu, FloatAgreesWithDouble) {
  Gelu g;
  const FVec inp = to_float(g.inp), R = to_float(g.R);
  FVec out(n), dinp(n);
  k::gelu_forward(out.data(), inp.data(), n);
  k::gelu_backward(dinp.data(), inp.data(), R.data(), n);
  expect_close("out", out, g.forward(), 1e-6);
  expect_close("dinp", dinp, g.backward(Vec(n)), 1e-6);
}

}  // namespace
}  // namespace plait::test
