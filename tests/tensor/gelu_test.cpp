#include <cmath>
#include <limits>

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

// bias_gelu: gelu(pre + bias) with pre updated in place; its backward gives the
// gradients of both (finite differences) and sums the bias gradient onto dbias.
struct BiasGelu {
  static constexpr int N = 6, H = 9;
  Rng rng{43};
  Vec pre = random_vec(N * H, rng, 3.0);  // [N,H], the product without its bias
  Vec bias = random_vec(H, rng);          // [H]
  Vec R = random_vec(N * H, rng);         // [N,H], dL/dout
  Vec forward(Vec* with_bias = nullptr) const {
    Vec p = pre, out(N * H);
    k::bias_gelu_forward(out.data(), p.data(), bias.data(), N, H);
    if (with_bias) *with_bias = p;
    return out;
  }
};

TEST(Gelu, BiasGeluForwardIsGeluOfPrePlusBias) {
  BiasGelu g;
  Vec p;
  const Vec out = g.forward(&p);
  Vec want(p.size());
  k::gelu_forward(want.data(), p.data(), p.size());
  for (int n = 0; n < g.N; n++)
    for (int j = 0; j < g.H; j++) ASSERT_EQ(p[n * g.H + j], g.pre[n * g.H + j] + g.bias[j]);
  expect_near_all("out", out, want, 0);
}

TEST(Gelu, BiasGeluGradientsMatchFiniteDifferences) {
  BiasGelu g;
  Vec p;
  g.forward(&p);
  Rng rng(44);
  const Vec seed = random_vec(g.H, rng);
  Vec dpre(g.N * g.H, std::numeric_limits<double>::quiet_NaN()), dbias = seed;  // dpre overwritten
  k::bias_gelu_backward(dpre.data(), dbias.data(), p.data(), g.R.data(), g.N, g.H);
  auto loss = [&] { return weighted_sum(g.forward(), g.R); };
  expect_gradient("dpre", g.pre, dpre, loss);
  Vec dbias_only(g.H);
  for (int j = 0; j < g.H; j++) dbias_only[j] = dbias[j] - seed[j];
  expect_gradient("dbias", g.bias, dbias_only, loss);
  Vec dpre2(g.N * g.H);  // without dbias: the same dpre
  k::bias_gelu_backward<double>(dpre2.data(), nullptr, p.data(), g.R.data(), g.N, g.H);
  expect_near_all("dpre", dpre2, dpre, 0);
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
