// Helpers that keep the kernels' inner loops vectorisable under strict IEEE rules
// (the build has no -ffast-math, so the compiler may neither reorder a reduction nor
// call a vector exp/tanh on its own).
//
//   * Reductions (sum, dot, max) run kLanes independent accumulators; the order of
//     operations is fixed, so results are deterministic for a given length. GCC maps
//     sum_of's lanes onto SIMD registers; max's stay scalar (GCC 12 will not vectorise
//     a conditional reduction under IEEE rules) but run as kLanes independent chains.
//   * exp and tanh: for float, branch-free polynomial versions (Cephes expf, relative
//     error ~2 ulp) that vectorise inside loops; for double (gradient checks), the
//     standard library's, so checks compare against the exact functions.
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

namespace plait::kernels::vec {

inline constexpr int kLanes = 16;

// sum over i in [0, n) of term(i); term must be cheap and branch-free to vectorise.
// Forced inline so that term is too (a call per element would stop vectorisation).
template <class F, class Term>
[[gnu::always_inline]] inline F sum_of(int n, Term term) {
  F acc[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; j++) acc[j] += term(i + j);
  F s = 0;
  for (; i < n; i++) s += term(i);
  for (int j = 0; j < kLanes; j++) s += acc[j];
  return s;
}

template <class F>
F sum(const F* x, int n) {
  return sum_of<F>(n, [x](int i) { return x[i]; });
}

template <class F>
F dot(const F* x, const F* y, int n) {
  return sum_of<F>(n, [x, y](int i) { return x[i] * y[i]; });
}

// max of x[0..n), n >= 1.
template <class F>
F max(const F* x, int n) {
  F acc[kLanes];
  for (int j = 0; j < kLanes; j++) acc[j] = x[0];
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; j++) acc[j] = acc[j] > x[i + j] ? acc[j] : x[i + j];
  F m = x[0];
  for (; i < n; i++) m = m > x[i] ? m : x[i];
  for (int j = 0; j < kLanes; j++) m = m > acc[j] ? m : acc[j];
  return m;
}

// e^x for float: x = n ln2 + r with |r| <= ln2/2, e^r by a degree-7 polynomial, then
// 2^n added to the exponent bits. Inputs are clamped to [-86, 88] so 2^n stays a
// normal scale; below -86 the result is 0 (the true value is under 5e-38), above 88 it
// is e^88 (finite), and NaN stays NaN.
inline float exp(float x) {
  // Argument order matters: std::max(-86, NaN) is -86, so xc is never NaN and the
  // float->int conversion below is always defined; NaN is passed through at the end.
  const float xc = std::min(88.0f, std::max(-86.0f, x));
  // Round x*log2(e) to the nearest integer with the 1.5*2^23 trick (no libm call).
  const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = xc - n * 0.693359375f;  // ln2 split in two: n*hi is exact
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const int32_t bits = std::bit_cast<int32_t>(y) + (static_cast<int32_t>(n) << 23);
  const float e = x < -86.0f ? 0.0f : std::bit_cast<float>(bits);
  return std::isnan(x) ? x : e;
}
inline double exp(double x) { return std::exp(x); }

// tanh(u) = 1 - 2 / (e^{2u} + 1): exact limits +-1 for large |u|, absolute error
// ~1e-7 near 0 (where GELU needs absolute, not relative, accuracy).
inline float tanh(float u) { return 1.0f - 2.0f / (vec::exp(2.0f * u) + 1.0f); }
inline double tanh(double u) { return std::tanh(u); }

}  // namespace plait::kernels::vec
