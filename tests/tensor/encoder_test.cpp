#include "check.h"
#include "tensor/kernels.h"

namespace plait::test {
namespace {

namespace k = kernels;

constexpr int B = 2, T = 5, C = 12, V = 7;

struct Encoder {
  Rng rng{61};
  std::vector<int32_t> tokens = random_tokens(B * T, V, rng);  // [B,T]
  Vec wte = random_vec(V * C, rng);                            // [V,C]
  Vec wpe = random_vec(T * C, rng);                            // [T,C]
  Vec R = random_vec(B * T * C, rng);                          // [B,T,C], dL/dout
  Vec forward() const {
    Vec out(B * T * C);
    k::encoder_forward(out.data(), tokens.data(), wte.data(), wpe.data(), B, T, C);
    return out;
  }
  void backward(Vec& dwte, Vec& dwpe) const {
    k::encoder_backward(dwte.data(), dwpe.data(), R.data(), tokens.data(), B, T, C);
  }
};

TEST(Encoder, ForwardAddsTokenAndPositionRows) {
  Encoder e;
  const Vec out = e.forward();
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++)
      for (int c = 0; c < C; c++)
        ASSERT_EQ(out[(b * T + t) * C + c], e.wte[e.tokens[b * T + t] * C + c] + e.wpe[t * C + c]);
}

TEST(Encoder, GradientsMatchFiniteDifferences) {
  Encoder e;
  e.tokens[3] = e.tokens[7];  // a repeated token: its gradient rows must add up
  Vec dwte(V * C), dwpe(T * C);
  e.backward(dwte, dwpe);
  auto loss = [&] { return weighted_sum(e.forward(), e.R); };
  expect_gradient("dwte", e.wte, dwte, loss);
  expect_gradient("dwpe", e.wpe, dwpe, loss);
}

TEST(Encoder, BackwardAccumulates) {
  Encoder e;
  Rng rng(5);
  const Vec s_te = random_vec(V * C, rng), s_pe = random_vec(T * C, rng);
  Vec dwte(V * C), dwpe(T * C), acc_te = s_te, acc_pe = s_pe;
  e.backward(dwte, dwpe);
  e.backward(acc_te, acc_pe);
  expect_near_all("dwte", acc_te, plus(s_te, dwte));
  expect_near_all("dwpe", acc_pe, plus(s_pe, dwpe));
}

TEST(Encoder, FloatAgreesWithDouble) {
  Encoder e;
  Vec dwte(V * C), dwpe(T * C);
  e.backward(dwte, dwpe);
  const FVec wte = to_float(e.wte), wpe = to_float(e.wpe), R = to_float(e.R);
  FVec out(B * T * C), fdwte(V * C), fdwpe(T * C);
  k::encoder_forward(out.data(), e.tokens.data(), wte.data(), wpe.data(), B, T, C);
  k::encoder_backward(fdwte.data(), fdwpe.data(), R.data(), e.tokens.data(), B, T, C);
  expect_close("out", out, e.forward(), 1e-7);
  expect_close("dwte", fdwte, dwte, 1e-6);
  expect_close("dwpe", fdwpe, dwpe, 1e-6);
}

}  // namespace
}  // namespace plait::test
