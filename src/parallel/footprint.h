// Estimated memory of a run, from its sizes alone (closed forms, nothing allocated),
// so that a command refuses what cannot fit BEFORE it allocates (util/machine.h:
// require_memory). Estimates, not bounds: they count the big arrays (parameters,
// gradients, AdamW moments, saved activations, logits) and ignore the small ones.
#pragma once
#include <string>

#include "model/config.h"
#include "parallel/train_options.h"

namespace plait {

// Parameters of the model (the arena's floats): wte, wpe, the blocks, ln_f.
double param_floats(const GPTConfig& c);

// Floats a forward and backward pass saves or uses for `sequences` sequences of T
// tokens through `layers` blocks (the head and its logits included when `head`).
double activation_floats(const GPTConfig& c, double sequences, int T, double layers, bool head);

struct Footprint {
  double bytes = 0;    // the whole process
  std::string detail;  // "4 workers x (model state 1.2 GiB + activations 0.3 GiB)"
};

// The training process's memory: every in-process worker (or this MPI rank) holds its
// share of the parameters, gradients and two AdamW moments, and the activations of
// its micro-batch; dedicated parameter servers hold the full model and moments.
Footprint train_footprint(const TrainOptions& opt);

// A model loaded for inference (parameters and their gradient arena, GPT's layout)
// running `sequences` sequences of T tokens.
double inference_bytes(const GPTConfig& c, double sequences, int T);

}  // namespace plait
