// Model-parallel generation: the ranks of a tp x pp mesh (layout/mesh_shape.h with one
// replica: rank = tp + T * pp) each hold their shard of the model, split exactly as in
// training (model/shard_table.h: NH/T heads and 4C/T hidden units of every block of
// their stage), and together make one StepModel (infer/step_model.h) that the engine
// on world rank 0 drives.
//
// One pass of a group's feeds (F feeds, N new tokens in all):
//   stage 0, tp rank 0 (world rank 0, the engine's rank): the feeds go to its tensor
//     group by broadcast ({F, N}, then [slot, pos, n] x F and the N tokens);
//   every stage: its blocks over the N rows (infer/decoder.h), the tensor group's two
//     allreduces per block closing the row-parallel products (one per split per token);
//   stage s -> s+1, tp rank r to tp rank r: {F, N}, the feeds, the rows x [N, C];
//   the last stage's tp rank 0 -> world rank 0: the logits [F, Vp].
// A pipeline of P stages runs P groups (micro-batches of sequences, slot s in group
// s % P): while the engine samples one group's tokens and stage 0 computes the next
// group's pass, the later stages compute the others, so the stages stay busy.
//
// Messages between two ranks carry consecutive tags and are received in the order
// they are sent; sends are non-blocking (their buffers kept until complete), so no
// pair of ranks can deadlock sending to each other. {F = -1} ends the followers.
//
// Numerics: the same kernels as one worker; the row-parallel sums add the tensor
// ranks' partial products in another order, so logits differ by float rounding only
// and greedy tokens are the same (tests/infer/mesh_decoder_test.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "comm/comm.h"
#include "comm/latency_allreduce.h"
#include "infer/decoder.h"
#include "layout/mesh_shape.h"

namespace plait::infer {

struct MeshLayout {
  int tp = 1, pp = 1;
  std::vector<int> stages;  // blocks per stage (--stages); empty: balanced
  int world() const { return tp * pp; }
};

// Fills one rank's parameter arena (laid out by the table: its stage's blocks, its
// heads and hidden units) with its slices of the model: from the whole model's arena
// (whole_arena_loader), or straight from a checkpoint, reading only the rank's boxes
// (cli/infer_layout.h: a model too large for one process loads).
using ShardLoader = std::function<void(const ShardTable& table, std::span<float> out)>;
ShardLoader whole_arena_loader(const GPTConfig& cfg, std::span<const float> full);

class MeshDecoder : public StepModel {
 public:
  // Collective over c.world(), whose size must be m.world(). `load` fills this rank's
  // shard; `full`: the whole model's arena (ParamTable(cfg)'s layout), borrowed while
  // the constructor copies its shard. UsageError for a split the model does not allow
  // (naming --tp, --pp or --stages).
  MeshDecoder(comm::Comm& c, const GPTConfig& cfg, const MeshLayout& m, const ShardLoader& load,
              int slots);
  MeshDecoder(comm::Comm& c, const GPTConfig& cfg, const MeshLayout& m,
              std::span<const float> full, int slots);
  ~MeshDecoder() override;

  bool leader() const { return world_.rank() == 0; }
  // Other ranks: run the passes rank 0 submits until its finish().
  void follow();
  // Rank 0: completes the passes in flight, then ends every follow().
  void finish();

  // StepModel (rank 0 only)
  const GPTConfig& config() const override { return dec_->config(); }
  int slots() const override { return dec_->slots(); }
  int groups() const override { return groups_; }
  void submit(int group, std::span<const Feed> feeds) override;
  int collect() override;
  const float* logits(int f) const override;

  const ShardLayout& layout() const { return dec_->layout(); }
  // This rank's parameters (ShardTable(cfg, its layout)'s arena).
  std::span<const float> shard_params() const { return params_; }
  // This rank's time in the tensor group's allreduces so far (waits included).
  double allreduce_seconds() const;

 private:
  struct Pending;
  void run_pass(const int32_t hdr[2], const std::vector<int32_t>& meta, const float* x);
  void post(int peer, std::vector<std::byte> buf);
  void recv(int peer, std::span<std::byte> dst);
  void send_stop();
  void drain();

  comm::Group world_, tp_;
  MeshShape shape_;
  MeshCoord me_;
  int groups_ = 1;
  std::vector<float> params_;  // this rank's shard (ShardTable's layout)
  std::shared_ptr<comm::LatencyAllreduce> allreduce_;  // tp > 1
  std::unique_ptr<Decoder> dec_;
  std::deque<std::pair<int, int>> in_flight_;  // rank 0: (group, F), oldest first
  std::vector<float> logits_;                  // rank 0 with pp > 1: the collected pass's
  bool local_logits_ = true;                   // logits(f) reads dec_ (pp == 1)
  std::map<int, uint64_t> sent_, received_;    // message count per peer (the tags)
  std::deque<Pending> pending_;                // sends not known complete, oldest first
  bool finished_ = false;
};

}  // namespace plait::infer
