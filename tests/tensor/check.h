// Shared helpers for the kernel tests: random tensors, the finite-difference gradient
// check, and float-vs-double comparison.
//
// Gradient check: for a kernel with output out and a fixed random R, the scalar loss is
// L = sum(out * R). Calling the backward with dout = R gives dL/dx analytically; the
// check compares every element against the central difference
//   (L(x + h e_i) - L(x - h e_i)) / 2h,   error O(h^2) + O(eps * |L| / h)
// in double precision, where both terms are ~1e-10 at h = 1e-5.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "util/rng.h"

namespace plait::test {

using Vec = std::vector<double>;
using FVec = std::vector<float>;

// n values uniform in [-scale, scale).
inline Vec random_vec(size_t n, Rng& rng, double scale = 1.0) {
  Vec v(n);
  for (auto& x : v) x = scale * (2.0 * rng.uniform() - 1.0);
  return v;
}

inline std::vector<int32_t> random_tokens(size_t n, int V, Rng& rng) {
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(rng.next_u64() % uint64_t(V));
  return t;
}

inline double weighted_sum(const Vec& out, const Vec& R) {
  double s = 0;
  for (size_t i = 0; i < out.size(); i++) s += out[i] * R[i];
  return s;
}

inline FVec to_float(const Vec& v) { return FVec(v.begin(), v.end()); }

// Checks analytic == dL/dx element by element; x is perturbed in place and restored.
// The relative error's denominator is floored at 1e-3 so that elements whose gradient
// is (near) zero are compared in absolute terms.
inline void expect_gradient(const std::string& name, Vec& x, const Vec& analytic,
                            const std::function<double()>& loss, double tol = 1e-6,
                            double h = 1e-5) {
  ASSERT_EQ(x.size(), analytic.size()) << name;
  double worst = 0;
  size_t worst_i = 0;
  double worst_num = 0;
  for (size_t i = 0; i < x.size(); i++) {
    const double saved = x[i];
    x[i] = saved + h;
    const double lp = loss();
    x[i] = saved - h;
    const double lm = loss();
    x[i] = saved;
    const double num = (lp - lm) / (2 * h);
    const double err =
        std::abs(analytic[i] - num) / std::max({std::abs(analytic[i]), std::abs(num), 1e-3});
    if (err > worst) worst = err, worst_i = i, worst_num = num;
  }
  EXPECT_LT(worst, tol) << name << "[" << worst_i << "]: analytic " << analytic[worst_i]
                        << " vs numeric " << worst_num;
}

// max_i |f[i] - d[i]| / max(|d[i]|, 1) < tol: float kernels agree with double ones.
inline void expect_close(const std::string& name, const FVec& f, const Vec& d, double tol) {
  ASSERT_EQ(f.size(), d.size()) << name;
  double worst = 0;
  size_t worst_i = 0;
  for (size_t i = 0; i < f.size(); i++) {
    const double err = std::abs(f[i] - d[i]) / std::max(std::abs(d[i]), 1.0);
    if (err > worst) worst = err, worst_i = i;
  }
  EXPECT_LT(worst, tol) << name << "[" << worst_i << "]: float " << f[worst_i]
                        << " vs double " << d[worst_i];
}

// |a[i] - b[i]| <= tol * max(|b[i]|, 1) for every i (two double computations).
inline void expect_near_all(const std::string& name, const Vec& a, const Vec& b,
                            double tol = 1e-12) {
  ASSERT_EQ(a.size(), b.size()) << name;
  for (size_t i = 0; i < a.size(); i++)
    ASSERT_NEAR(a[i], b[i], tol * std::max(std::abs(b[i]), 1.0)) << name << "[" << i << "]";
}

// g0 + g elementwise: what a backward that accumulates leaves in a buffer seeded with g0.
inline Vec plus(const Vec& g0, const Vec& g) {
  Vec s(g0.size());
  for (size_t i = 0; i < s.size(); i++) s[i] = g0[i] + g[i];
  return s;
}

}  // namespace plait::test
