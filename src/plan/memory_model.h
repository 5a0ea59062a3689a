// Memory per device for one stage of a layout: model state (weights, gradients,
// optimizer), saved activations and working space, in bytes.
//
//   model state   stage parameters × (weight + grad + optimizer) bytes (training_format.h);
//                 ZeRO-1 divides the optimizer state by dp, ZeRO-3 (FSDP) all three, and
//                 then holds two layers' gathered weights besides
//   activations   in-flight micro-batches (layout/schedule.h) × layers of the stage ×
//                 b·s tokens × bytes per token per layer (below)
//   workspace     one layer's full activations for one micro-batch: the backward
//                 pass's gradients of them (and, with recomputation, the layer being
//                 recomputed) need about that much again.
//   head          the last stage keeps logits and probabilities (fp32, V/t per token)
//                 for one micro-batch.
// Saved activations per token per layer, mixed precision (Korthikanti et al. 2022, §4.1,
// generalised to the model's shape): replicated 10h (layer-norm inputs 4h, the qkv and
// MLP inputs 4h, two dropout masks 2h; split by t with sequence parallelism), split by t:
// q and k 2(h + kv), v 2·kv, the projection's input 2h, the MLP's 4f (GELU's input and
// output; SwiGLU 6f), and the attention scores 5·a·s (softmax 2, dropout mask 1 and
// output 2 bytes each; none with selective recomputation or a fused kernel). GPT-2 at
// kv = h, f = 4h: 10h + 24h/t + 5as/t. Full recomputation keeps each layer's input.
// The fp32 format (plait's trainer) keeps its own count (training_format.h).
#pragma once
#include "plan/framework.h"
#include "plan/layout.h"
#include "plan/model_spec.h"
#include "plan/training_format.h"

namespace plait::plan {

struct MemoryEstimate {
  double weights = 0, grads = 0, optimizer = 0, activations = 0, workspace = 0;
  double total() const { return weights + grads + optimizer + activations + workspace; }
};

// Blocks per stage of the layout: l.stages, or balance_stages(L, pp).
std::vector<int> layout_stages(const ModelSpec& m, const Layout& l);

// Layers held by stage `stage` when the blocks are balanced (the first L mod P stages
// take one more).
int stage_layers(const ModelSpec& m, int stages, int stage);

// Parameters held by one device of stage `stage` (tensor split by tp; the token
// embedding lives on the first stage, split by vocab; the head on the last, which with
// tied embeddings and pp > 1 keeps a copy of it).
double stage_params(const ModelSpec& m, const Layout& l, int stage);

// Saved activation bytes per token of one layer.
double activation_bytes_per_token(const ModelSpec& m, Format f, int tp, Recompute r,
                                  const Framework& fw = {});
// Compatibility: recompute = full or none.
double activation_bytes_per_token(const ModelSpec& m, Format f, int tp, bool recompute);

MemoryEstimate stage_memory(const ModelSpec& m, Format f, const Layout& l, int stage,
                            const Framework& fw = {});

// The busiest device: the stage needing the most.
MemoryEstimate device_memory(const ModelSpec& m, Format f, const Layout& l,
                             const Framework& fw = {});

}  // namespace plait::plan
