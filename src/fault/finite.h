// Loaded tensors must be finite: a NaN or infinity in a checkpoint or weights file
// would train (or sample) garbage and, before the non-finite check of the run loop,
// could replace good checkpoints. Refused unless the user allows it
// (--allow-nonfinite: inspecting or exporting a damaged run, say).
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "model/params.h"

namespace plait {

// The process's policy (the CLI sets it from --allow-nonfinite); default: refuse.
void set_allow_nonfinite(bool allow);
bool allow_nonfinite();

// UsageError "WHERE: tensor 'NAME' holds nan at element I (...)" unless allowed.
void check_finite(std::span<const float> values, const std::string& where, const std::string& name);

// The first tensor of `specs` (offsets into both arenas) holding a NaN or infinity:
// parameters first ("NAME"), then gradients ("NAME grad"); "" when all are finite.
std::string first_nonfinite(std::span<const ParamSpec> specs, std::span<const float> params,
                            std::span<const float> grads);

// The same as an index, looking only at arena floats in [lo, hi): i for specs[i]'s
// parameters, specs.size() + i for its gradients; -1 when all are finite. Ranks that
// each hold part of the arena (ZeRO shards) take the smallest index over the ranks.
int64_t first_nonfinite_index(std::span<const ParamSpec> specs, std::span<const float> params,
                              std::span<const float> grads, size_t lo, size_t hi);
// The name of such an index ("NAME" or "NAME grad"; "" for -1).
std::string nonfinite_name(std::span<const ParamSpec> specs, int64_t index);

// Test hook: PLAIT_TEST_NAN_AT=STEP[+][:TENSOR] puts a NaN into the gradient of TENSOR
// (default transformer.h.0.mlp.c_fc.weight), element 0, at step STEP (0-based; with
// '+': at every step from STEP on, a run that keeps diverging), after the gradients are
// reduced and before the norm, as an overflow in the backward pass would. Returns true
// when a one-shot NaN was put (callers fire it once per process).
bool inject_nan_for_test(std::span<const ParamSpec> specs, int64_t step, std::span<float> grads);

}  // namespace plait
