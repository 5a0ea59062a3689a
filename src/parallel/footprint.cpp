#include "parallel/footprint.h"

#include <algorithm>
#include <cmath>

#include "util/machine.h"

namespace plait {

double param_floats(const GPTConfig& c) {
  const double C = c.dim, L = c.layers;
  const double block = 12 * C * C + 13 * C;  // c_attn, c_proj, c_fc, c_proj, 2 LayerNorms
  return static_cast<double>(c.padded_vocab()) * C + c.ctx * C + L * block + 2 * C;
}

double activation_floats(const GPTConfig& c, double sequences, int T, double layers, bool head) {
  const double C = c.dim, NH = c.heads, t = T;
  // per block (model/block.h): 16 C + 4 floats per token saved, NH T x T probabilities
  // per sequence; one block's scratch (about as much again) is shared by all blocks.
  const double block = t * (16 * C + 4) + NH * t * t;
  double per_seq = (layers + 1) * block + 2 * t * C;  // + the residual stream's gradient
  if (head) per_seq += t * (2 * C + 2 * static_cast<double>(c.padded_vocab()) + 4);
  return sequences * per_seq;
}

Footprint train_footprint(const TrainOptions& opt) {
  const GPTConfig& m = opt.model;
  const int world = std::max(1, opt.workers);
  const double split = std::max(1, opt.tp) * std::max(1, opt.pp);
  const double dp = opt.backend == comm::Backend::mpi ? 1 : std::max(1, opt.effective_dp());
  // A rank's sequences at once: its share, or its micro-batch; a pipeline keeps up to
  // pp micro-batches in flight, which together are at most the share.
  double seqs = std::ceil(static_cast<double>(opt.batch) / dp);
  if (opt.micro_batch > 0 && opt.pp == 1) seqs = std::min<double>(seqs, opt.micro_batch);
  const double state = 4.0 * 4.0 * param_floats(m) / split;  // params, grads, m, v
  const double acts =
      4.0 * activation_floats(m, seqs, m.ctx, static_cast<double>(m.layers) / opt.pp, true) /
      std::max(1, opt.tp);
  const double ranks = opt.backend == comm::Backend::mpi ? 1 : world;
  // The servers together hold one copy of the parameters, the pushed gradients and
  // the two moments.
  const bool servers = opt.backend != comm::Backend::mpi && opt.servers > 0;
  Footprint f;
  f.bytes = ranks * (state + acts) + (servers ? 16.0 * param_floats(m) : 0.0);
  f.detail = std::to_string(static_cast<long long>(ranks)) + " worker" + (ranks == 1 ? "" : "s") +
             " x (model state " + gib(state) + " + activations " + gib(acts) + ")";
  if (servers) f.detail += " + parameter servers";
  return f;
}

double inference_bytes(const GPTConfig& c, double sequences, int T) {
  return 4.0 * (2 * param_floats(c) + activation_floats(c, sequences, T, c.layers, true));
}

}  // namespace plait
