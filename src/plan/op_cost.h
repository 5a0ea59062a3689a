// The time of one kernel on one device, from its shape: the per-operation cost model.
//
//   matrix product C[m,n] = A[m,k]·B[k,n] (× batch, one kernel):
//     time = max(2mnk ÷ (peak × sustained_clock × gemm_max_fraction × tiles(m, n)),
//                bytes(A, B, C) ÷ streaming bandwidth) + kernel overhead
//     tiles(m, n) = m·n ÷ (⌈m/T⌉·T · ⌈n/T⌉·T) × k ÷ (⌈k/S⌉·S), k = ⌈m/T⌉·⌈n/T⌉·batch tiles on
//     S multiprocessors: the share of the output tiles of edge T holding real work (tile
//     quantisation) times the share of the last wave's SMs that have a tile (wave
//     quantisation; both from NVIDIA's "Matrix Multiplication Background" guide);
//     gemm_max_fraction is the best large product measured (MAMF).
//   element-wise kernel (layer norm, GELU, softmax, dropout, residual, optimizer):
//     time = bytes read and written ÷ (memory bandwidth × memory_efficiency) + overhead
//   fused (flash) attention: FLOPs ÷ (peak × sustained_clock × fused_attention_fraction)
//     + overhead
// The device numbers are cluster_spec.h's; on a CPU (`--cluster local`) the tile is 0,
// the overhead 0 and both fractions 1, so a product runs at the measured sgemm rate.
#pragma once
#include "plan/cluster_spec.h"

namespace plait::plan {

// Work and time of some kernels; added up per operation class for the breakdown.
struct OpTime {
  double seconds = 0;
  double flops = 0;  // useful FLOPs done (products, attention)
  double bytes = 0;  // bytes streamed (element-wise kernels)
  OpTime& operator+=(const OpTime& o) {
    seconds += o.seconds, flops += o.flops, bytes += o.bytes;
    return *this;
  }
  OpTime operator*(double k) const { return {seconds * k, flops * k, bytes * k}; }
  OpTime operator+(const OpTime& o) const { return OpTime(*this) += o; }
};

// Share of the output tiles and waves holding real work (1 when the device has no tile).
// `batch` products of [m, n] in one kernel.
double tile_efficiency(const DeviceSpec& d, double m, double n, double batch = 1);

// C[m,n] = A[m,k]·B[k,n], `batch` such products in one kernel, `element` bytes each.
OpTime gemm(const DeviceSpec& d, double m, double n, double k, double element, double batch = 1);

// The three products of a linear layer's forward and backward over `tokens` rows with
// weights [in, out]: forward Y = X·W; backward dX = dY·Wᵀ and dW = Xᵀ·dY.
OpTime linear_forward(const DeviceSpec& d, double tokens, double in, double out, double element);
OpTime linear_backward(const DeviceSpec& d, double tokens, double in, double out, double element);

// Element-wise kernels streaming `bytes` in all, `kernels` launches.
OpTime stream(const DeviceSpec& d, double bytes, int kernels = 1);

// A fused attention kernel doing `flops`.
OpTime fused_attention(const DeviceSpec& d, double flops);

}  // namespace plait::plan
