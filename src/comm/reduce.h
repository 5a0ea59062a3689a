// Element-wise sums, the only arithmetic the collectives do. Each element is summed
// on its own (SIMD lanes never mix elements), so the result depends only on the order
// in which an algorithm adds whole buffers, which every algorithm fixes.
#pragma once
#include <cstddef>

#include "comm/transport.h"

namespace plait::comm {

// dst[i] += src[i] for the `bytes / dtype_size(t)` elements of type t.
void reduce_sum(DType t, std::byte* dst, const std::byte* src, std::size_t bytes);
// dst[i] += src[i], then src[i] = dst[i]: the same sums, returned to the sender in the
// same pass (Arrive::sum_back). dst and src do not overlap.
void reduce_sum_back(DType t, std::byte* dst, std::byte* src, std::size_t bytes);

}  // namespace plait::comm
