// What the workers and servers of parameter-server training (param_server.h) say to
// each other, and the server's entry point.
//
// Messages on a worker's link group ("ps-link-<w>", world ranks), between worker w
// and server k (world rank N + k). A message's kind is its tag: per (worker, server)
// the exchange alternates strictly (push, reply, push, ...), and messages between one
// pair with one tag never overtake, so no sequence number is needed.
//
//   worker -> server   kPushHead PushHead; then, unless head.step < 0 ("done"),
//                      kPushGrad  the shard of the gradient SUM (floats)
//   worker 0 -> server kPushHead with step kRollback (--on-nonfinite rollback, sync),
//                      then kInitParams, kInitM, kInitV: the shard of the checkpoint it
//                      reloaded, step `seqs` opened again in epoch `epoch`; no reply
//   server -> worker   kReplyHead ReplyHead; kReplyRanks N bytes (1: the rank
//                      contributed to the step the statistics describe);
//                      kReplyParams the shard; if the push asked, kReplyM, kReplyV
//                      async, stale: then kReplyStale N int32 (each worker's staleness
//                      at its latest push: updates this server applied between that
//                      worker's previous reply and the push)
//   worker 0 -> server once, before the first push: kInitHead InitHead, then
//                      kInitParams, kInitM, kInitV (the state a run starts from:
//                      initialised from the seed, or loaded by --resume)
//   server 0 -> server k (sync, K > 1; on the servers' group): kContributors, N bytes
//                      per step (1: the worker contributes to the open step)
//   server j -> server k (sync, K > 1, backup workers under MPI; servers' group):
//                      kNorm, one double per step: j's square norm of its shard of the
//                      step's mean gradient (the others' allreduce, watched)
//   server -> worker 0 once, after its "done": kEnd (one int64, the steps closed), sent
//                      when every handler of the server has ended (each worker done or
//                      dropped), so worker 0 (rank 0, whose exit is the job's under
//                      plait launch) ends after the servers
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "comm/collectives.h"
#include "comm/group.h"
#include "parallel/train_options.h"

namespace plait::ps {

enum Tag : std::uint64_t {
  kPushHead = 1,
  kPushGrad,
  kReplyHead,
  kReplyRanks,
  kReplyParams,
  kReplyM,
  kReplyV,
  kInitHead,
  kInitParams,
  kInitM,
  kInitV,
  kReplyStale,
  kEnd,
  kContributors,
  kNorm,
};


inline constexpr std::int64_t kDone = -1, kRollback = -2;  // PushHead::step

struct PushHead {
  std::int64_t step = kDone;   // the step (iteration) the gradient belongs to; or kDone,
                               // kRollback
  std::int64_t seqs = 0;       // sequences summed
  double loss_sum = 0;         // their losses' sum
  double grad_norm = 0;        // L2 norm of the gradient sum (async and stale use it)
  std::int32_t want_moments = 0;
  std::int32_t pad = 0;
  std::int64_t epoch = 0;      // rollbacks before this push (a server waits for its own)
};

struct ReplyHead {
  std::int64_t next_step = 0;   // the step this worker pushes next
  std::int64_t stats_step = -1; // the step the statistics below describe (-1: none)
  double loss_sum = 0;          // of the contributions to stats_step (server 0's reply)
  std::int64_t seqs = 0;
  double grad_norm = 0;         // sync: the global norm before clipping
  float lr = 0;
  std::int32_t pad = 0;
};

struct InitHead {
  std::int64_t step = 0;  // the run starts after this many steps
};

template <class T>
comm::ConstBytes bytes_of(const T& x) {
  return std::as_bytes(std::span<const T>(&x, 1));
}
template <class T>
comm::Bytes bytes_of(T& x) {
  return std::as_writable_bytes(std::span<T>(&x, 1));
}
inline comm::ConstBytes bytes_of(const float* p, size_t n) {
  return std::as_bytes(std::span<const float>(p, n));
}
inline comm::Bytes bytes_of(float* p, size_t n) {
  return std::as_writable_bytes(std::span<float>(p, n));
}

// Who is who in the world of N workers and K servers.
struct Roles {
  int workers = 1, servers = 1;
  size_t total = 0;  // floats in the parameter arena
  int server_rank(int k) const { return workers + k; }
  comm::Shard shard(int k) const { return comm::shard_of(total, servers, k); }
};

// Test hook (docs/DATA_PARALLEL.md): PLAIT_TEST_SLOW_RANK=r makes every server hold
// worker r's push until the step it belongs to has closed, so that with backup
// workers r is always dropped; ignored for r = 0 or without backup workers. -1: unset.
int test_slow_rank();

// Server k's whole run: receives the initial state from worker 0, serves the N
// workers on their links until each says done (and, in sync mode, closes the steps
// up to end_step(opt, start)). `servers` is the servers-only group (server k is its rank k).
// Backup workers under MPI with --checkpoint-dir: the waits between a worker and a
// server judge the peer by its heartbeat file there (PeerWatch, backup_sync.h); else "".
std::string watched_beat_dir(const TrainOptions& opt, const comm::Group& link);

void serve(const TrainOptions& opt, const Roles& layout, int k, std::vector<comm::Group>& links,
           comm::Group& servers);

// "0,2,3" for a log line ("none" when empty).
inline std::string ranks_text(const std::vector<int>& ranks) {
  std::string s;
  for (int r : ranks) {
    if (!s.empty()) s += ',';
    s += std::to_string(r);
  }
  return s.empty() ? "none" : s;
}

}  // namespace plait::ps
