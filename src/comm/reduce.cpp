#include "comm/reduce.h"

#include <cstring>

namespace plait::comm {
namespace {

template <class T>
void sum_into(std::byte* dst, const std::byte* src, std::size_t bytes) {
  T* __restrict d = reinterpret_cast<T*>(dst);
  const T* __restrict s = reinterpret_cast<const T*>(src);
  const std::size_t n = bytes / sizeof(T);
  for (std::size_t i = 0; i < n; ++i) d[i] += s[i];
}

template <class T>
void sum_into_both(std::byte* dst, std::byte* src, std::size_t bytes) {
  T* __restrict d = reinterpret_cast<T*>(dst);
  T* __restrict s = reinterpret_cast<T*>(src);
  const std::size_t n = bytes / sizeof(T);
  for (std::size_t i = 0; i < n; ++i) {
    const T v = d[i] + s[i];
    d[i] = v;
    s[i] = v;
  }
}

}  // namespace

std::size_t dtype_size(DType t) { return t == DType::f64 ? 8 : 4; }

const char* to_string(DType t) { return t == DType::f64 ? "f64" : "f32"; }

void reduce_sum(DType t, std::byte* dst, const std::byte* src, std::size_t bytes) {
  if (t == DType::f64)
    sum_into<double>(dst, src, bytes);
  else
    sum_into<float>(dst, src, bytes);
}

void reduce_sum_back(DType t, std::byte* dst, std::byte* src, std::size_t bytes) {
  if (t == DType::f64)
    sum_into_both<double>(dst, src, bytes);
  else
    sum_into_both<float>(dst, src, bytes);
}

}  // namespace plait::comm
