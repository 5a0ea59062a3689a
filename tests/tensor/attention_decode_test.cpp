// attention_cached_forward (the KV-cache kernel) against the rows of
// attention_forward over the whole sequence, in double (exact to rounding): one new
// row, several new rows after a past, and everything at once.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "tensor/decode_kernels.h"
#include "tensor/kernels.h"

namespace plait::kernels {
namespace {

TEST(AttentionCached, RowsEqualFullAttention) {
  const int T = 37, C = 24, NH = 3;  // hs 8
  std::mt19937 rng(1);
  std::normal_distribution<double> nd;
  std::vector<double> qkv(size_t(T) * 3 * C);
  for (auto& x : qkv) x = nd(rng);
  std::vector<double> full(size_t(T) * C), att(size_t(NH) * T * T);
  attention_forward(full.data(), att.data(), qkv.data(), 1, T, C, NH);
  // the cache: k and v of every position, [T, C] each
  std::vector<double> kc(size_t(T) * C), vc(size_t(T) * C);
  for (int t = 0; t < T; ++t)
    for (int c = 0; c < C; ++c) {
      kc[size_t(t) * C + c] = qkv[size_t(t) * 3 * C + C + c];
      vc[size_t(t) * C + c] = qkv[size_t(t) * 3 * C + 2 * C + c];
    }
  for (auto [past, n] : {std::pair{0, T}, {0, 1}, {5, 1}, {36, 1}, {10, 7}, {33, 4}}) {
    std::vector<double> out(size_t(n) * C, -1), scratch(size_t(n) * T);
    attention_cached_forward(out.data(), C, scratch.data(), qkv.data() + size_t(past) * 3 * C,
                             3 * C, kc.data(), vc.data(), n, past, C, NH);
    for (int i = 0; i < n; ++i)
      for (int c = 0; c < C; ++c)
        ASSERT_NEAR(out[size_t(i) * C + c], full[size_t(past + i) * C + c], 1e-12)
            << "past " << past << " row " << i << " channel " << c;
  }
}

}  // namespace
}  // namespace plait::kernels
