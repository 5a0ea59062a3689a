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

// Bytes per device by kind; `comm` is the buffers for messages between devices (the
// fp32 model of plait's trainer counts its pipeline messages; the mixed model none).
struct MemoryEstimate {
  double weights = 0, grads = 0, optimizer = 0, activations = 0, workspace = 0, comm = 0;
  double pools = 0;  // of comm: ZeRO-2/3's page pools (zero_pools), already in comm
  double total() const { return weights + grads + optimizer + activations + workspace + comm; }
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

// Format::fp32 is plait's own trainer, whose allocations the model mirrors exactly
// (docs/MEMORY.md, "Memory by kind"; N = b·T tokens of a micro-batch, t = tp, floats):
//   weights    first stage wte Vp·C + wpe T·C; per block 12C²/t + 7C/t + 6C (the
//              row-parallel biases and layer norms replicated); last stage ln_f 2C and,
//              with pp > 1, wte's copy; gradients the same; AdamW m and v 2×
//   activations  slots in flight (1 without a pipeline; the schedule's peak with one)
//              × (the stage input N·C (+ N tokens first) + per block what --recompute
//              keeps: none N(4C + 12C/t + 4) + b·NH/t·T², selective without the T²
//              part, block N·C; last stage targets N, ln_f N·C + 2N, probabilities N·Vp)
//   workspace  the block scratch N(2C + 12C/t) + b·NH/t·T², the recompute buffer
//              (selective b·NH/t·T² + N·C/t; block one full block), the residual
//              gradient N·C, the last stage's logits N·Vp + 2N, the micro-batch's
//              token ids 2N
//   comm       pipeline meshes: the received message N·C, and on stages after the
//              first one d(x) buffer N·C per micro-batch; ZeRO's (below)
// `zero_stage` (--zero, over l.dp ranks): 1 divides the optimizer by dp, 2 the
// gradients too, 3 the weights too. comm then adds, under data parallelism (no tp/pp),
// the page pools (zero_pools, below: the gathered units live in the parameter pool),
// and on a mesh the gathered units a pass holds at once outside the busiest dp rank's
// shard (two consecutive units: embeddings, blocks, head; parallel/zero.h).
// `bucket_mb`: train's --bucket-mb; `dp_rank`: that data-parallel rank's pools, or
// (-1) the busiest's.
MemoryEstimate plait_stage_memory(const ModelSpec& m, const Layout& l, int stage, int zero_stage,
                                  double bucket_mb = 4.0, int dp_rank = -1);

// ZeRO-2/3's page pools under data parallelism (util/page_pool.h), bytes per rank,
// counted as communication buffers (the ZeRO paper's constant-size buffers): `grads`
// the gradient buckets' (stages 2, 3; parallel/grad_buckets.h): the other ranks'
// buckets inside wte at their size, plus min(ceil(block / slot) + 2, the other
// buckets) slots of the largest bucket (+ a page): bounded by a block and two buckets
// whatever the model's size; `params` the gathered units' (stage 3; parallel/zero.h):
// the most windows outside the shard of two consecutive units, each a slot of the
// largest unit (a block, or wte with wpe or ln_f). Zero without ZeRO-2/3, with one
// data-parallel rank, or on a tp/pp mesh (no pools there). `dp_rank` < 0: the rank
// whose pools are the largest.
struct ZeroPools {
  double grads = 0, params = 0;
};
ZeroPools zero_pools(const ModelSpec& m, const Layout& l, int zero_stage, double bucket_mb,
                     int dp_rank = -1);

// The busiest device: the stage needing the most.
MemoryEstimate device_memory(const ModelSpec& m, Format f, const Layout& l,
                             const Framework& fw = {});

}  // namespace plait::plan
