// Memory per device for one stage of a layout: model state (weights, gradients,
// optimizer), saved activations and working space, in bytes.
//
//   model state   stage parameters × (weight + grad + optimizer) bytes (training_format.h)
//   activations   in-flight micro-batches (pipeline.h) × layers of the stage ×
//                 b·s tokens × bytes per token per layer; with recomputation only each
//                 layer's input (h elements per token) is kept.
//   workspace     one layer's full activations for one micro-batch: the backward
//                 pass's gradients of them (and, with recomputation, the layer being
//                 recomputed) need about that much again.
//   head          the last stage keeps logits and probabilities (fp32, V/t per token)
//                 for one micro-batch.
// The first stage (most micro-batches in flight under 1F1B, the embeddings) and the
// last stage (the head, logits) are the candidates for the busiest device.
#pragma once
#include "plan/layout.h"
#include "plan/model_spec.h"
#include "plan/training_format.h"

namespace plait::plan {

struct MemoryEstimate {
  double weights = 0, grads = 0, optimizer = 0, activations = 0, workspace = 0;
  double total() const { return weights + grads + optimizer + activations + workspace; }
};

// Layers held by stage `stage` (the first L mod P stages take one more).
int stage_layers(const ModelSpec& m, int stages, int stage);

// Parameters held by one device of stage `stage` (tensor split by tp; the token
// embedding, tied to the head, lives on the first and the last stage, split by vocab).
double stage_params(const ModelSpec& m, const Layout& l, int stage);

// Saved activation bytes per token of one layer, whole (recompute) or not.
double activation_bytes_per_token(const ModelSpec& m, Format f, int tp, bool recompute);

MemoryEstimate stage_memory(const ModelSpec& m, Format f, const Layout& l, int stage);

// The busiest device: the larger of the first and the last stage.
MemoryEstimate device_memory(const ModelSpec& m, Format f, const Layout& l);

}  // namespace plait::plan
