// What the training framework does, as far as the cost model cares: which kernels it
// fuses, which recomputation it offers, what it overlaps and what it shards. The
// same model on the same devices runs at different speeds under Megatron-LM 2021 and
// a 2023 stack with flash attention, so a prediction names the framework it assumes
// (`plait plan --framework NAME`). Presets, each from the paper that describes it:
//
//   megatron     Megatron-LM as in Narayanan et al. 2021 (the default): unfused
//                attention (batched q·kᵀ, fused scale-mask-softmax, dropout, att·v),
//                full recomputation (every run of the paper; its FLOP count assumes it),
//                each micro-batch's fp16 weight gradients added into fp32 main_grad by
//                a separate kernel (10 bytes per parameter), gradients all-reduced after
//                the backward pass (its local DDP), tensor-parallel allreduces exposed.
//   megatron-sp  Korthikanti et al. 2022: + no, selective (the attention core) or full
//                recomputation, sequence parallelism (layer norms and dropouts split by
//                t), the gradient accumulation fused into the weight-gradient GEMM.
//   deepspeed    Megatron-DeepSpeed (BLOOM, MT-NLG): megatron + ZeRO stage 1 (the
//                optimizer state sharded over the data-parallel group); gradients
//                accumulated in 16-bit (6 bytes per parameter per micro-batch).
//   fsdp         metaseq (OPT): fully sharded data parallelism (ZeRO-3: weights,
//                gradients and optimizer sharded; weights gathered before each layer,
//                gradients reduce-scattered after it, overlapped with compute).
//   flash        xformers / FlashAttention era (LLaMA): fused attention, selective
//                recomputation, sequence parallelism, gradient reduction and half of the
//                tensor-parallel communication overlapped with compute.
//   plait        plait's own trainer: megatron's kernels (unfused attention), gradient
//                buckets all-reduced during the backward pass, no, selective or full
//                recomputation (train --recompute none|selective|block).
#pragma once
#include <string>
#include <vector>

namespace plait::plan {

struct Framework {
  std::string name = "megatron";
  bool fused_attention = false;      // flash-style kernel: no s×s scores stored or streamed
  bool selective_recompute = false;  // recomputing only the attention core is offered
  bool no_recompute = false;         // keeping every activation is offered (else: full)
  bool sequence_parallel = false;    // replicated activations and their kernels split by t
  bool dp_overlap = false;           // gradient reduction overlaps the backward pass
  double tp_overlap = 0;             // share of tensor-parallel communication hidden
  int zero_stage = 0;                // 0 none; 1 optimizer state sharded; 3 everything
  double grad_accum_bytes = 10;      // per parameter per micro-batch, streamed to add a
                                     // micro-batch's weight gradients into the sum
  std::string source = "Megatron-LM, Narayanan et al. 2021";
  double bucket_mb = 4;  // gradient buckets (plait: --bucket-mb; its ZeRO-2/3 page pools
                         // follow them: memory_model.h)
};

// The presets above; nullptr if unknown.
const Framework* find_framework(const std::string& name);
std::vector<std::string> framework_names();
// A preset by name, else UsageError listing them.
Framework load_framework(const std::string& name);

}  // namespace plait::plan
