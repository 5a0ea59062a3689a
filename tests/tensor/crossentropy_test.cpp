#include <cmath>
#include <limits>

#include "check.h"
#include "tensor/kernels.h"

namespace plait::test {
namespace {

namespace k = kernels;

constexpr int N = 10, V = 7;  // N = B*T rows with B=2, T=5

struct CrossEntropy {
  Rng rng{71};
  Vec logits = random_vec(N * V, rng, 3.0);             // [N,V]
  std::vector<int32_t> targets = random_tokens(N, V, rng);  // [N]
  Vec R = random_vec(N, rng);                           // [N], dL/dlosses
  Vec probs = Vec(N * V);                               // [N,V]

  Vec forward() {
    Vec losses(N);
    k::softmax_crossentropy_forward(probs.data(), losses.data(), logits.data(), targets.data(),
                                    N, V);
    return losses;
  }
  Vec backward(Vec dlogits) {
    forward();
    k::softmax_crossentropy_backward(dlogits.data(), probs.data(), targets.data(), R.data(), N,
                                     V);
    return dlogits;
  }
};

TEST(CrossEntropy, ForwardMatchesNaiveLoops) {
  CrossEntropy ce;
  const Vec losses = ce.forward();
  for (int n = 0; n < N; n++) {
    double z = 0;
    for (int v = 0; v < V; v++) z += std::exp(ce.logits[n * V + v]);
    for (int v = 0; v < V; v++)
      ASSERT_NEAR(ce.probs[n * V + v], std::exp(ce.logits[n * V + v]) / z, 1e-14);
    ASSERT_NEAR(losses[n], std::log(z) - ce.logits[n * V + ce.targets[n]], 1e-12);
  }
}

TEST(CrossEntropy, GradientMatchesFiniteDifferences) {
  CrossEntropy ce;
  const Vec dlogits = ce.backward(Vec(N * V));
  expect_gradient("dlogits", ce.logits, dlogits, [&] { return weighted_sum(ce.forward(), ce.R); });
}

TEST(CrossEntropy, BackwardAccumulates) {
  CrossEntropy ce;
  Rng rng(5);
  const Vec seed = random_vec(N * V, rng);
  expect_near_all("dlogits", ce.backward(seed), plus(seed, ce.backward(Vec(N * V))));
}

// Huge logits: the max is subtracted, so float neither overflows nor loses the loss.
// Overwriting a padded dlogits (NaN before) gives the accumulating values into zeros,
// and 0 in the padded columns.
TEST(CrossEntropy, OverwritingWritesEveryColumn) {
  CrossEntropy ce;
  const Vec dlogits = ce.backward(Vec(N * V));
  constexpr int Vp = V + 3;
  Vec logits(N * Vp, 0.0), probs(N * Vp), losses(N);
  for (int n = 0; n < N; n++)
    for (int v = 0; v < V; v++) logits[n * Vp + v] = ce.logits[n * V + v];
  k::softmax_crossentropy_forward(probs.data(), losses.data(), logits.data(), ce.targets.data(),
                                  N, V, Vp);
  Vec o(N * Vp, std::numeric_limits<double>::quiet_NaN());
  k::softmax_crossentropy_backward(o.data(), probs.data(), ce.targets.data(), ce.R.data(), N, V,
                                   Vp, k::Into::overwrite);
  for (int n = 0; n < N; n++)
    for (int v = 0; v < Vp; v++)
      ASSERT_EQ(o[n * Vp + v], v < V ? dlogits[n * V + v] : 0.0) << n << "," << v;
}

TEST(CrossEntropy, FloatAgreesWithDoubleOnLargeLogits) {
  CrossEntropy ce;
  for (auto& z : ce.logits) z *= 40.0;
  const Vec losses = ce.forward();
  const Vec dlogits = ce.backward(Vec(N * V));
  const FVec logits = to_float(ce.logits), R = to_float(ce.R);
  FVec probs(N * V), flosses(N), fdlogits(N * V);
  k::softmax_crossentropy_forward(probs.data(), flosses.data(), logits.data(), ce.targets.data(),
                                  N, V);
  k::softmax_crossentropy_backward(fdlogits.data(), probs.data(), ce.targets.data(), R.data(), N,
                                   V);
  expect_close("losses", flosses, losses, 1e-6);
  expect_close("probs", probs, ce.probs, 1e-6);
  expect_close("dlogits", fdlogits, dlogits, 1e-6);
}

// A vocabulary padded from V to Vp columns: the padding takes no probability and gets
// no gradient, whatever its logits; the real columns equal the unpadded computation.
TEST(CrossEntropy, PaddedColumnsAreMaskedOut) {
  CrossEntropy ce;
  const Vec losses = ce.forward();
  const Vec dlogits = ce.backward(Vec(N * V));
  constexpr int Vp = V + 5;
  Vec logits(N * Vp), probs(N * Vp), plosses(N), pdlogits(N * Vp, 0.0);
  for (int n = 0; n < N; n++)
    for (int v = 0; v < Vp; v++) logits[n * Vp + v] = v < V ? ce.logits[n * V + v] : 50.0;
  k::softmax_crossentropy_forward(probs.data(), plosses.data(), logits.data(), ce.targets.data(),
                                  N, V, Vp);
  k::softmax_crossentropy_backward(pdlogits.data(), probs.data(), ce.targets.data(), ce.R.data(),
                                   N, V, Vp);
  expect_near_all("losses", plosses, losses);
  for (int n = 0; n < N; n++)
    for (int v = 0; v < Vp; v++) {
      ASSERT_EQ(probs[n * Vp + v] == 0.0, v >= V) << n << "," << v;
      if (v >= V) ASSERT_EQ(pdlogits[n * Vp + v], 0.0);
      else ASSERT_NEAR(pdlogits[n * Vp + v], dlogits[n * V + v], 1e-14);
    }
}

}  // namespace
}  // namespace plait::test
