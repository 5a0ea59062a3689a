#include <cmath>
#include <limits>
#include <string>

#include "check.h"
#include "tensor/kernels.h"

namespace plait::test {
namespace {

namespace k = kernels;

struct Shape {
  int B, T, C, NH;
};
// Small odd sizes; T past several row tiles (8) and lane groups (16 floats, 8 doubles)
// with a ragged end; a head size of two full lane groups (the demo's 32) and one that
// is no multiple of the lanes (20), both with ragged T.
constexpr Shape kSmall{2, 5, 12, 3};
constexpr Shape kBlocked{1, 70, 4, 2};
constexpr Shape kHead32{1, 37, 32, 1};
constexpr Shape kHead20{1, 21, 60, 3};

struct Attention {
  Shape s;
  Rng rng{21};
  Vec qkv = random_vec(size_t(s.B) * s.T * 3 * s.C, rng);  // [B,T,3C]
  Vec R = random_vec(size_t(s.B) * s.T * s.C, rng);        // [B,T,C], dL/dout
  size_t att_size() const { return size_t(s.B) * s.NH * s.T * s.T; }

  Vec forward(Vec* att_out = nullptr) const {
    Vec out(R.size()), att(att_size());
    k::attention_forward(out.data(), att.data(), qkv.data(), s.B, s.T, s.C, s.NH);
    if (att_out) *att_out = att;
    return out;
  }
  double loss() const { return weighted_sum(forward(), R); }
  Vec backward(Vec dqkv, double datt_fill = 0, k::Into mode = k::Into::accumulate) const {
    Vec att;
    forward(&att);
    Vec datt(att_size(), datt_fill);
    k::attention_backward(dqkv.data(), datt.data(), R.data(), qkv.data(), att.data(), s.B,
                          s.T, s.C, s.NH, mode);
    return dqkv;
  }
};

// llm.c's loops: out[b,t,h] = sum_{t2<=t} softmax_t2(q_t.k_t2 / sqrt(hs)) v_t2.
Vec naive_attention(const Vec& qkv, Shape s) {
  const int hs = s.C / s.NH, C3 = 3 * s.C;
  Vec out(size_t(s.B) * s.T * s.C, 0.0);
  for (int b = 0; b < s.B; b++)
    for (int t = 0; t < s.T; t++)
      for (int h = 0; h < s.NH; h++) {
        const double* q = &qkv[(size_t(b) * s.T + t) * C3 + h * hs];
        Vec w(t + 1);
        double m = -1e300, z = 0;
        for (int t2 = 0; t2 <= t; t2++) {
          const double* kk = &qkv[(size_t(b) * s.T + t2) * C3 + s.C + h * hs];
          double dot = 0;
          for (int i = 0; i < hs; i++) dot += q[i] * kk[i];
          w[t2] = dot / std::sqrt(double(hs));
          m = std::max(m, w[t2]);
        }
        for (auto& x : w) z += (x = std::exp(x - m));
        double* o = &out[(size_t(b) * s.T + t) * s.C + h * hs];
        for (int t2 = 0; t2 <= t; t2++) {
          const double* v = &qkv[(size_t(b) * s.T + t2) * C3 + 2 * s.C + h * hs];
          for (int i = 0; i < hs; i++) o[i] += w[t2] / z * v[i];
        }
      }
  return out;
}

class AttentionTest : public ::testing::TestWithParam<Shape> {};

TEST_P(AttentionTest, ForwardMatchesNaiveLoops) {
  Attention a{GetParam()};
  expect_near_all("out", a.forward(), naive_attention(a.qkv, a.s), 1e-12);
}

TEST_P(AttentionTest, MaskedEntriesAreExactlyZeroAndRowsSumToOne) {
  Attention a{GetParam()};
  Vec att;
  a.forward(&att);
  const int T = a.s.T;
  for (size_t row = 0; row < att.size() / T; row++) {
    const int t = int(row % T);
    double sum = 0;
    for (int t2 = 0; t2 < T; t2++) {
      const double x = att[row * T + t2];
      if (t2 > t) ASSERT_EQ(x, 0.0) << "row " << row << " col " << t2;
      else ASSERT_GT(x, 0.0) << "row " << row << " col " << t2;
      sum += x;
    }
    ASSERT_NEAR(sum, 1.0, 1e-12) << "row " << row;
  }
}

TEST_P(AttentionTest, OutputIgnoresTheFuture) {
  Attention a{GetParam()};
  const Vec before = a.forward();
  const int T = a.s.T, C3 = 3 * a.s.C;
  for (int b = 0; b < a.s.B; b++)  // change q, k and v of every batch's last position
    for (int i = 0; i < C3; i++) a.qkv[(size_t(b) * T + T - 1) * C3 + i] += 0.5;
  const Vec after = a.forward();
  for (size_t i = 0; i < before.size(); i++) {
    const bool last = (i / a.s.C) % T == size_t(T - 1);
    if (last) ASSERT_NE(before[i], after[i]) << i;
    else ASSERT_EQ(before[i], after[i]) << i;
  }
}

TEST_P(AttentionTest, GradientMatchesFiniteDifferences) {
  Attention a{GetParam()};
  const Vec dqkv = a.backward(Vec(a.qkv.size()));
  expect_gradient("dqkv", a.qkv, dqkv, [&] { return a.loss(); });
}

TEST_P(AttentionTest, BackwardAccumulatesAndOverwritesScratch) {
  Attention a{GetParam()};
  Rng rng(7);
  const Vec seed = random_vec(a.qkv.size(), rng);
  const Vec g = a.backward(Vec(a.qkv.size()));
  // datt starts as NaN: any scratch entry read before being written would poison dqkv.
  const Vec acc = a.backward(seed, std::numeric_limits<double>::quiet_NaN());
  expect_near_all("dqkv", acc, plus(seed, g));
}

TEST_P(AttentionTest, OverwritingWritesEveryElementAsAccumulatingIntoZeros) {
  Attention a{GetParam()};
  const Vec g = a.backward(Vec(a.qkv.size()));
  // dqkv starts as NaN: an element the overwriting pass left unwritten stays NaN.
  const Vec o = a.backward(Vec(a.qkv.size(), std::numeric_limits<double>::quiet_NaN()), 0,
                           k::Into::overwrite);
  expect_near_all("dqkv", o, g, 0);
}

TEST_P(AttentionTest, FloatAgreesWithDouble) {
  Attention a{GetParam()};
  const Shape s = a.s;
  Vec att;
  const Vec out = a.forward(&att);
  const Vec dqkv = a.backward(Vec(a.qkv.size()));
  const FVec qkv = to_float(a.qkv), R = to_float(a.R);
  FVec fout(out.size()), fatt(att.size()), fdatt(att.size()), fdqkv(qkv.size());
  k::attention_forward(fout.data(), fatt.data(), qkv.data(), s.B, s.T, s.C, s.NH);
  k::attention_backward(fdqkv.data(), fdatt.data(), R.data(), qkv.data(), fatt.data(), s.B,
                        s.T, s.C, s.NH);
  expect_close("out", fout, out, 1e-5);
  expect_close("att", fatt, att, 1e-5);
  expect_close("dqkv", fdqkv, dqkv, 1e-5);
}

std::string shape_name(const ::testing::TestParamInfo<Shape>& info) {
  static const char* const names[] = {"Small", "Blocked", "Head32", "Head20"};
  return names[info.index];
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionTest,
                         ::testing::Values(kSmall, kBlocked, kHead32, kHead20), shape_name);

}  // namespace
}  // namespace plait::test
