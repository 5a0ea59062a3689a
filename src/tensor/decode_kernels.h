// Forward-only kernels for generation with a key/value cache (src/infer/): the new
// tokens of one sequence attend to every cached position before them. Conventions as
// in kernels.h (outputs first, row-major, no allocation, no state).
#pragma once
#include <cstddef>

namespace plait::kernels {

// Causal self-attention of n new query rows over a sequence's cache.
//   q   [n, >=C] rows `ldq` apart (a qkv row: q is its first C channels)
//   kc  [past+n, C] keys of positions 0 .. past+n-1 (the n new ones already written)
//   vc  [past+n, C] values, likewise
//   out [n, C] rows `ldo` apart: head h's channels [h*hs, (h+1)*hs) = att . v
//   att [n, past+n] scratch: softmax(q.k^T / sqrt(hs)); query i (position past+i)
//       sees keys 0 .. past+i, entries after that are 0.
// C and NH may be a tensor-parallel shard's (hs = C/NH). The result equals rows
// past .. past+n-1 of attention_forward over all past+n positions (up to rounding).
template <class F>
void attention_cached_forward(F* out, int ldo, F* att, const F* q, int ldq, const F* kc,
                              const F* vc, int n, int past, int C, int NH);

}  // namespace plait::kernels
