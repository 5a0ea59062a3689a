// Loaded tensors must be finite: a NaN or infinity in a checkpoint or weights file
// would train (or sample) garbage and, before the non-finite check of the run loop,
// could replace good checkpoints. Refused unless the user allows it
// (--allow-nonfinite: inspecting or exporting a damaged run, say).
#pragma once
#include <span>
#include <string>

namespace plait {

// The process's policy (the CLI sets it from --allow-nonfinite); default: refuse.
void set_allow_nonfinite(bool allow);
bool allow_nonfinite();

// UsageError "WHERE: tensor 'NAME' holds nan at element I (...)" unless allowed.
void check_finite(std::span<const float> values, const std::string& where, const std::string& name);

}  // namespace plait
