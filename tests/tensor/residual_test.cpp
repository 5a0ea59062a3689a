#include "check.h"
#include "tensor/kernels.h"

namespace plait::test {
namespace {

namespace k = kernels;

constexpr size_t n = 37;

TEST(Residual, GradientsMatchFiniteDifferences) {
  Rng rng(51);
  Vec a = random_vec(n, rng), b = random_vec(n, rng), R = random_vec(n, rng);  // [n] each
  auto loss = [&] {
    Vec out(n);
    k::residual_forward(out.data(), a.data(), b.data(), n);
    return weighted_sum(out, R);
  };
  Vec da(n), db(n);
  k::residual_backward(da.data(), db.data(), R.data(), n);
  expect_gradient("da", a, da, loss);
  expect_gradient("db", b, db, loss);
}

TEST(Residual, ForwardAddsAndBackwardAccumulates) {
  Rng rng(52);
  const Vec a = random_vec(n, rng), b = random_vec(n, rng), d = random_vec(n, rng);
  Vec out(n), da = a, db = b;
  k::residual_forward(out.data(), a.data(), b.data(), n);
  expect_near_all("out", out, plus(a, b), 0);
  k::residual_backward(da.data(), db.data(), d.data(), n);
  expect_near_all("da", da, plus(a, d), 0);
  expect_near_all("db", db, plus(b, d), 0);
}

// out = a + (b + bias) per row of [rows, cols]; without a bias, residual_forward.
TEST(Residual, BiasForwardAddsTheBiasToEveryRow) {
  constexpr int rows = 5, cols = 7;
  Rng rng(54);
  const Vec a = random_vec(rows * cols, rng), b = random_vec(rows * cols, rng),
            bias = random_vec(cols, rng);
  Vec out(rows * cols), plain(rows * cols);
  k::residual_bias_forward(out.data(), a.data(), b.data(), bias.data(), rows, cols);
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++)
      ASSERT_EQ(out[r * cols + c], a[r * cols + c] + (b[r * cols + c] + bias[c])) << r << "," << c;
  k::residual_bias_forward<double>(out.data(), a.data(), b.data(), nullptr, rows, cols);
  k::residual_forward(plain.data(), a.data(), b.data(), size_t(rows) * cols);
  expect_near_all("out", out, plain, 0);
  Vec alias = b;  // out may alias b
  k::residual_bias_forward(alias.data(), a.data(), alias.data(), bias.data(), rows, cols);
  for (int i = 0; i < rows * cols; i++)
    ASSERT_EQ(alias[i], a[i] + (b[i] + bias[i % cols])) << i;
}

TEST(Residual, FloatAgreesWithDouble) {
  Rng rng(53);
  const Vec a = random_vec(n, rng), b = random_vec(n, rng);
  const FVec fa = to_float(a), fb = to_float(b);
  FVec out(n);
  k::residual_forward(out.data(), fa.data(), fb.data(), n);
  expect_close("out", out, plus(a, b), 1e-7);
}

}  // namespace
}  // namespace plait::test
