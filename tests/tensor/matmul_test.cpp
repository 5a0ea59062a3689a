#include "check.h"
#include "tensor/kernels.h"

namespace plait::test {
namespace {

namespace k = kernels;

constexpr int N = 10, C = 12, OC = 7;  // N = B*T rows with B=2, T=5

struct Grads {
  Vec dinp = Vec(N * C), dw = Vec(OC * C), dbias = Vec(OC);  // [N,C], [OC,C], [OC]
};

struct Matmul {
  Rng rng{11};
  Vec inp = random_vec(N * C, rng);   // [N,C]
  Vec w = random_vec(OC * C, rng);    // [OC,C]
  Vec bias = random_vec(OC, rng);     // [OC]
  Vec R = random_vec(N * OC, rng);    // [N,OC], dL/dout

  Vec forward(const double* b) const {
    Vec out(N * OC);
    k::matmul_forward(out.data(), inp.data(), w.data(), b, N, C, OC);
    return out;
  }
  double loss() const { return weighted_sum(forward(bias.data()), R); }
  Grads backward(Grads g) const {
    k::matmul_backward(g.dinp.data(), g.dw.data(), g.dbias.data(), R.data(), inp.data(),
                       w.data(), N, C, OC);
    return g;
  }
};

TEST(Matmul, ForwardMatchesNaiveLoops) {
  Matmul m;
  const Vec out = m.forward(m.bias.data());
  for (int n = 0; n < N; n++) {
    for (int o = 0; o < OC; o++) {
      double s = m.bias[o];
      for (int c = 0; c < C; c++) s += m.inp[n * C + c] * m.w[o * C + c];
      ASSERT_NEAR(out[n * OC + o], s, 1e-12) << n << "," << o;
    }
  }
}

TEST(Matmul, GradientsMatchFiniteDifferences) {
  Matmul m;
  const Grads g = m.backward(Grads{});
  auto loss = [&] { return m.loss(); };
  expect_gradient("dinp", m.inp, g.dinp, loss);
  expect_gradient("dweight", m.w, g.dw, loss);
  expect_gradient("dbias", m.bias, g.dbias, loss);
}

TEST(Matmul, BackwardAccumulates) {
  Matmul m;
  Rng rng(5);
  Grads seed{random_vec(N * C, rng), random_vec(OC * C, rng), random_vec(OC, rng)};
  const Grads g = m.backward(Grads{}), acc = m.backward(seed);
  expect_near_all("dinp", acc.dinp, plus(seed.dinp, g.dinp));
  expect_near_all("dweight", acc.dw, plus(seed.dw, g.dw));
  expect_near_all("dbias", acc.dbias, plus(seed.dbias, g.dbias));
}

TEST(Matmul, NullBiasMeansZeroBias) {
  Matmul m;
  const Vec zero(OC, 0.0);
  expect_near_all("out", m.forward(nullptr), m.forward(zero.data()), 0);
}

TEST(Matmul, NullDinpAndDbiasLeaveDweightUnchanged) {
  Matmul m;
  const Grads g = m.backward(Grads{});
  Vec dw(OC * C);
  k::matmul_backward<double>(nullptr, dw.data(), nullptr, m.R.data(), m.inp.data(),
                             m.w.data(), N, C, OC);
  expect_near_all("dweight", dw, g.dw, 0);
}

TEST(Matmul, FloatAgreesWithDouble) {
  Matmul m;
  const Vec out = m.forward(m.bias.data());
  const Grads g = m.backward(Grads{});
  const FVec inp = to_float(m.inp), w = to_float(m.w), bias = to_float(m.bias),
             R = to_float(m.R);
  FVec fout(N * OC), dinp(N * C), dw(OC * C), dbias(OC);
  k::matmul_forward(fout.data(), inp.data(), w.data(), bias.data(), N, C, OC);
  k::matmul_backward(dinp.data(), dw.data(), dbias.data(), R.data(), inp.data(), w.data(), N,
                     C, OC);
  expect_close("out", fout, out, 1e-5);
  expect_close("dinp", dinp, g.dinp, 1e-5);
  expect_close("dweight", dw, g.dw, 1e-5);
  expect_close("dbias", dbias, g.dbias, 1e-5);
}

}  // namespace
}  // namespace plait::test
