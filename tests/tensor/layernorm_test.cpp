#include <cmath>
#include <limits>

#include "check.h"
#include "tensor/kernels.h"

namespace plait::test {
namespace {

namespace k = kernels;

constexpr int N = 10, C = 12;  // N = B*T rows with B=2, T=5

struct Grads {
  Vec dinp = Vec(N * C), dw = Vec(C), db = Vec(C);  // [N,C], [C], [C]
};

struct LayerNorm {
  Rng rng{31};
  Vec inp = random_vec(N * C, rng, 2.0);  // [N,C]
  Vec w = random_vec(C, rng);             // [C]
  Vec b = random_vec(C, rng);             // [C]
  Vec R = random_vec(N * C, rng);         // [N,C], dL/dout
  Vec mean = Vec(N), rstd = Vec(N);       // [N], [N]

  Vec forward() {
    Vec out(N * C);
    k::layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(),
                         N, C);
    return out;
  }
  double loss() { return weighted_sum(forward(), R); }
  Grads backward(Grads g, k::Into mode = k::Into::accumulate) {
    forward();
    k::layernorm_backward(g.dinp.data(), g.dw.data(), g.db.data(), R.data(), inp.data(),
                          w.data(), mean.data(), rstd.data(), N, C, mode);
    return g;
  }
};

TEST(LayerNorm, ForwardMatchesNaiveLoops) {
  LayerNorm ln;
  const Vec out = ln.forward();
  for (int n = 0; n < N; n++) {
    double m = 0, v = 0;
    for (int c = 0; c < C; c++) m += ln.inp[n * C + c] / C;
    for (int c = 0; c < C; c++) v += (ln.inp[n * C + c] - m) * (ln.inp[n * C + c] - m) / C;
    const double s = 1 / std::sqrt(v + 1e-5);
    ASSERT_NEAR(ln.mean[n], m, 1e-12);
    ASSERT_NEAR(ln.rstd[n], s, 1e-12);
    for (int c = 0; c < C; c++)
      ASSERT_NEAR(out[n * C + c], (ln.inp[n * C + c] - m) * s * ln.w[c] + ln.b[c], 1e-12);
  }
}

TEST(LayerNorm, GradientsMatchFiniteDifferences) {
  LayerNorm ln;
  const Grads g = ln.backward(Grads{});
  auto loss = [&] { return ln.loss(); };
  expect_gradient("dinp", ln.inp, g.dinp, loss);
  expect_gradient("dweight", ln.w, g.dw, loss);
  expect_gradient("dbias", ln.b, g.db, loss);
}

TEST(LayerNorm, BackwardAccumulates) {
  LayerNorm ln;
  Rng rng(5);
  Grads seed{random_vec(N * C, rng), random_vec(C, rng), random_vec(C, rng)};
  const Grads g = ln.backward(Grads{}), acc = ln.backward(seed);
  expect_near_all("dinp", acc.dinp, plus(seed.dinp, g.dinp));
  expect_near_all("dweight", acc.dw, plus(seed.dw, g.dw));
  expect_near_all("dbias", acc.db, plus(seed.db, g.db));
}

// Rows whose mean dwarfs their spread: the two-pass variance keeps float accurate.
TEST(LayerNorm, OverwritingDinpEqualsAccumulatingIntoZeros) {
  LayerNorm ln;
  const Grads g = ln.backward(Grads{});
  Grads nan;  // dinp NaN: overwritten; dw, db still accumulate (from zeros here)
  std::fill(nan.dinp.begin(), nan.dinp.end(), std::numeric_limits<double>::quiet_NaN());
  const Grads o = ln.backward(nan, k::Into::overwrite);
  expect_near_all("dinp", o.dinp, g.dinp, 0);
  expect_near_all("dw", o.dw, g.dw, 0);
  expect_near_all("db", o.db, g.db, 0);
}

TEST(LayerNorm, FloatAgreesWithDoubleOnOffsetRows) {
  LayerNorm ln;
  for (auto& x : ln.inp) x += 100.0;
  const Vec out = ln.forward();
  const Grads g = ln.backward(Grads{});
  const FVec inp = to_float(ln.inp), w = to_float(ln.w), b = to_float(ln.b), R = to_float(ln.R);
  FVec fout(N * C), mean(N), rstd(N), dinp(N * C), dw(C), db(C);
  k::layernorm_forward(fout.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(),
                       N, C);
  k::layernorm_backward(dinp.data(), dw.data(), db.data(), R.data(), inp.data(), w.data(),
                        mean.data(), rstd.data(), N, C);
  expect_close("out", fout, out, 2e-5);
  expect_close("dinp", dinp, g.dinp, 2e-5);
  expect_close("dweight", dw, g.dw, 2e-5);
  expect_close("dbias", db, g.db, 2e-5);
}

}  // namespace
}  // namespace plait::test
