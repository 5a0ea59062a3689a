// Small statistics over measurements.
#pragma once
#include <algorithm>
#include <cstddef>
#include <vector>

namespace plait {

// The middle value (the mean of the two middle ones for an even count); 0 if empty.
inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

}  // namespace plait
