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
