// Helpers for the comm tests: run a body on N threads, and cheap closed-form data.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "comm/collectives.h"
#include "comm/comm.h"

namespace plait::comm::test {

inline ThreadsOptions threads(int world, int ranks_per_node = 0, double timeout_s = 30) {
  ThreadsOptions o;
  o.world = world;
  o.ranks_per_node = ranks_per_node;
  o.timeout_s = timeout_s;
  return o;
}

// Rank r's element i: small integers, so that every sum is exact in float and the
// closed form below holds whatever the summation order.
inline float value(int rank, std::size_t i) {
  return static_cast<float>((rank + 1) * static_cast<int>(i % 13 + 1));
}
// The sum of value(r, i) over r < p.
inline float summed(int p, std::size_t i) {
  return static_cast<float>(p * (p + 1) / 2 * static_cast<int>(i % 13 + 1));
}

inline std::vector<float> filled(int rank, std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = value(rank, i);
  return v;
}

// First index where `got` differs from the closed form, or -1.
inline long first_wrong(const std::vector<float>& got, int p) {
  for (std::size_t i = 0; i < got.size(); ++i)
    if (got[i] != summed(p, i)) return static_cast<long>(i);
  return -1;
}

// Collects one message per rank from worker threads (gtest assertions are not meant
// to run on many threads at once, so the workers record and the test thread checks).
class Findings {
 public:
  void add(std::string s) {
    std::lock_guard lock(m_);
    items_.push_back(std::move(s));
  }
  std::vector<std::string> items() {
    std::lock_guard lock(m_);
    return items_;
  }

 private:
  std::mutex m_;
  std::vector<std::string> items_;
};

}  // namespace plait::comm::test
