// Memory by kind, measured: what a rank's model and optimizer hold (from the sizes of
// the actual allocations), the process's peak resident set (getrusage), and the line
// and metrics-log event train writes after its first step. `plait simulate` predicts
// the same kinds (plan/memory_model.h); docs/MEMORY.md compares them.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "model/adamw.h"
#include "model/gpt.h"
#include "parallel/train_summary.h"
#include "parallel/zero.h"

namespace plait {

// weights, grads, activations (the slots kept) and workspace (the model's scratch) of
// `model`; optimizer of `adam`; comm 0 (the caller adds its message buffers). With
// `zero` (--zero 1|2|3) the weights and gradients are what it holds of the arenas
// (Zero::held: stage 3 the parameters' shard, stages 2 and 3 the gradients' shard,
// resident bytes) and comm counts stage 3's gathered units and, under data
// parallelism, ZeRO-2/3's page pools (their slots; the units live in the parameter
// pool's).
RankMemory measure_memory(const GPT& model, const AdamW& adam, const Zero* zero = nullptr);

double peak_rss_bytes();  // this process's, 0 where getrusage does not say

// "memory per rank: weights 1.2 MB, gradients ..., peak RSS 45 MB (the process)" for the
// busiest rank (the largest total) of `all`.
std::string memory_kinds_line(const std::vector<RankMemory>& all);
// {"event":"memory","recompute":...,"ranks":[{"rank":0,"weights":...},...]}
nlohmann::json memory_kinds_event(const std::vector<RankMemory>& all, const std::string& recompute);

}  // namespace plait
