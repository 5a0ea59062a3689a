#include "plan/op_cost.h"

#include <algorithm>
#include <cmath>

namespace plait::plan {

double tile_efficiency(const DeviceSpec& d, double m, double n, double batch) {
  if (d.gemm_tile <= 0) return 1;
  const double t = d.gemm_tile;
  const double per_product = std::ceil(m / t) * std::ceil(n / t);
  double share = m * n / (per_product * t * t);
  const double tiles = per_product * batch;  // one kernel runs every product's tiles
  if (d.multiprocessors > 0) {
    const double sms = d.multiprocessors;
    share *= tiles / (std::ceil(tiles / sms) * sms);  // the last wave's idle SMs
  }
  return share;
}

OpTime gemm(const DeviceSpec& d, double m, double n, double k, double element, double batch) {
  OpTime o;
  if (m <= 0 || n <= 0 || k <= 0 || batch <= 0) return o;
  o.flops = 2 * m * n * k * batch;
  const double rate =
      d.peak_flops * d.sustained_clock * d.gemm_max_fraction * tile_efficiency(d, m, n, batch);
  const double bytes = element * (m * k + k * n + m * n) * batch;
  o.seconds = std::max(o.flops / rate, bytes / d.stream_Bps()) + d.kernel_overhead_s;
  return o;
}

OpTime linear_forward(const DeviceSpec& d, double tokens, double in, double out, double element) {
  return gemm(d, tokens, out, in, element);
}

OpTime linear_backward(const DeviceSpec& d, double tokens, double in, double out,
                       double element) {
  return gemm(d, tokens, in, out, element) + gemm(d, out, in, tokens, element);
}

OpTime stream(const DeviceSpec& d, double bytes, int kernels) {
  OpTime o;
  o.bytes = bytes;
  o.seconds = bytes / d.stream_Bps() + kernels * d.kernel_overhead_s;
  return o;
}

OpTime fused_attention(const DeviceSpec& d, double flops) {
  OpTime o;
  o.flops = flops;
  o.seconds = flops / (d.peak_flops * d.sustained_clock * d.fused_attention_fraction) +
              d.kernel_overhead_s;
  return o;
}

}  // namespace plait::plan
