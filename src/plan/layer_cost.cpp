#include "plan/layer_cost.h"

#include <cmath>

namespace plait::plan {
namespace {

struct Dims {
  double n, h, f, kv, s, d, e, t, R, heads;  // heads: a/t per device
};

Dims dims(const ModelSpec& m, const Framework& fw, const PartShape& p) {
  const FormatBytes fb = format_bytes(p.format);
  const double t = p.tp;
  return {static_cast<double>(p.micro_batch) * m.ctx, static_cast<double>(m.dim),
          static_cast<double>(m.ffn_dim()), static_cast<double>(m.kv_dim()),
          static_cast<double>(m.ctx), static_cast<double>(m.head_dim()), fb.element, t,
          fw.sequence_parallel ? 1 / t : 1, m.heads / t};
}

// The four matrix products of a layer, forward or backward.
OpTime layer_gemms(const ModelSpec& m, const DeviceSpec& dev, const Dims& x, bool backward) {
  auto linear = backward ? linear_backward : linear_forward;
  const double up = (m.gated_mlp ? 2 : 1) * x.f / x.t;
  return linear(dev, x.n, x.h, (x.h + 2 * x.kv) / x.t, x.e) +  // qkv
         linear(dev, x.n, x.h / x.t, x.h, x.e) +               // attention projection
         linear(dev, x.n, x.h, up, x.e) +                      // MLP up (and gate)
         linear(dev, x.n, x.f / x.t, x.h, x.e);                // MLP down
}

// The attention core: q·kᵀ, softmax, dropout, att·v (or one fused kernel).
OpTime attention(const DeviceSpec& dev, const Framework& fw, const PartShape& p, const Dims& x,
                 bool backward) {
  const double batch = p.micro_batch * x.heads;
  if (fw.fused_attention) {
    const double blocks = std::ceil(x.s / 128);
    const double causal = (blocks + 1) / (2 * blocks);
    const double forward = 4 * x.s * x.s * x.d * batch * causal;
    return fused_attention(dev, backward ? 2.5 * forward : forward);
  }
  const bool dropout = p.format == Format::mixed;  // Megatron's attention dropout
  const double scores = batch * x.s * x.s;
  OpTime o;
  if (!backward) {
    o = gemm(dev, x.s, x.s, x.d, x.e, batch) + gemm(dev, x.s, x.d, x.s, x.e, batch);
    o += stream(dev, scores * (2 * x.e + (dropout ? 2 * x.e + 1 : 0)), dropout ? 2 : 1);
  } else {
    o = gemm(dev, x.s, x.d, x.s, x.e, batch) * 2 + gemm(dev, x.s, x.s, x.d, x.e, batch) +
        gemm(dev, x.s, x.d, x.s, x.e, batch);
    o += stream(dev, scores * (3 * x.e + (dropout ? 2 * x.e + 1 : 0)), dropout ? 2 : 1);
  }
  const double work = attention_work_fraction(p.format, static_cast<int>(x.s));
  o.flops *= work;
  o.seconds *= work;
  return o;
}

// Layer norms, bias-dropout-residuals, the activation, rotary; forward.
OpTime elementwise_forward(const ModelSpec& m, const DeviceSpec& dev, const PartShape& p,
                           const Dims& x) {
  const bool dropout = p.format == Format::mixed;
  double per_token = 4 * x.e * x.h * x.R;                     // two layer norms
  per_token += 2 * (3 * x.e + (dropout ? 1 : 0)) * x.h * x.R;  // two bias-dropout-residuals
  per_token += (m.gated_mlp ? 3 : 2) * x.e * x.f / x.t;       // GELU or SwiGLU
  int kernels = 5;
  if (m.positions == Positions::rotary) per_token += 2 * x.e * (x.h + x.kv) / x.t, ++kernels;
  OpTime o = stream(dev, per_token * x.n, kernels);
  if (dev.gelu_per_s > 0) o.seconds += x.n * x.f / x.t / dev.gelu_per_s;
  return o;
}

}  // namespace

LayerCost layer_cost(const ModelSpec& m, const DeviceSpec& d, const Framework& fw,
                     const PartShape& p) {
  const Dims x = dims(m, fw, p);
  LayerCost c;
  c.forward = {layer_gemms(m, d, x, false), attention(d, fw, p, x, false),
               elementwise_forward(m, d, p, x)};
  c.backward = {layer_gemms(m, d, x, true), attention(d, fw, p, x, true),
                c.forward.elementwise * 2};
  switch (p.recompute) {
    case Recompute::none:
      break;
    case Recompute::selective:
      if (!fw.fused_attention) c.recompute.attention = c.forward.attention;
      break;
    case Recompute::full:
      c.recompute = c.forward;
      c.tp_allreduces = 6;
      break;
  }
  return c;
}

PassCost head_cost(const ModelSpec& m, const DeviceSpec& d, const Framework& fw,
                   const PartShape& p) {
  const Dims x = dims(m, fw, p);
  const double v = m.vocab / x.t;
  PassCost c;
  c.gemm = linear_forward(d, x.n, x.h, v, x.e) + linear_backward(d, x.n, x.h, v, x.e);
  c.elementwise = stream(d, x.n * 3 * 4 * x.e * x.h * x.R, 3) +  // ln_f forward, backward
                  stream(d, x.n * 3 * 8 * v, 3);                 // cross-entropy, fp32
  return c;
}

PassCost embedding_cost(const ModelSpec& m, const DeviceSpec& d, const PartShape& p) {
  const double e = format_bytes(p.format).element, h = m.dim;
  const double per_token = (m.positions == Positions::learned ? 4 : 2) * e * h;
  PassCost c;
  c.elementwise = stream(d, static_cast<double>(p.micro_batch) * m.ctx * per_token * 2, 3);
  return c;
}

}  // namespace plait::plan
