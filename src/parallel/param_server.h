// Parameter-server training (docs/DATA_PARALLEL.md, "Parameter server"):
// `plait train --workers N --servers K [--ps-mode sync|async|stale] [--staleness S]
// [--backup-workers B]`.
//
// The world has N worker ranks (0..N-1) and K dedicated server ranks (N..N+K-1).
// Server k owns the contiguous shard comm::shard_of(P, K, k) of the P-float parameter
// arena (balanced by floats) and the AdamW moments of that shard: it is the
// authoritative copy of those floats. Workers hold a full model, take their
// balance::split_equal share of every global batch exactly as in data parallelism,
// accumulate the gradient SUM over it, PUSH each shard of the sum to its server and
// PULL the updated shard back into their model.
//
// Conversation: every worker w has a link group of its own (a dup of the world,
// "ps-link-<w>"); on each server one handler thread serves w on that link, so a
// server hears its N workers in whatever order they arrive without an any-source
// receive, and every handler owns its own transport (thread safety of comm/). Per
// push the worker sends a header (step, sequences, loss sum, gradient norm, whether it
// wants the AdamW moments back) then the gradient shard; the server answers with a
// header (the step to push next, the statistics of the last closed step, the ranks
// that contributed to it) then the parameter shard (and the two moment shards). The
// exchange is strictly alternating per (worker, server), so a message's kind is its
// tag. A worker ends with a header of step -1 ("done").
//
// Modes (ps_server.cpp implements them, with the ordering invariants):
//   sync   a step closes when its pushes are in; server 0 (the leader) decides which
//          ranks contribute and tells the other servers, every server sums the
//          contributions in worker order, divides by the contributed sequences once,
//          clips by the global norm (the shards' sums of squares allreduced over the
//          servers' group) and takes the AdamW step of its shard. Without backup
//          workers this is the single-worker run up to float addition order.
//   backup (sync, B > 0) the contributors of a step are worker 0 (the chief, which
//          logs and checkpoints and so always holds a step's exact state) and the
//          first N-B-1 other workers whose push reached the leader; later pushes for
//          that step are dropped. A dropped worker resumes at the servers' current step.
//   async  every push is applied on arrival as its own AdamW update (the mean
//          gradient of that worker's sequences, clipped by its own norm, with the
//          step's learning rate times the worker's share of the batch); the pull
//          returns the latest shard at once.
//   stale  async updates, and a worker may start iteration t only when every worker
//          has pushed iteration t - S (stale synchronous parallel, bound S).
//
// Worker 0 logs, evaluates and checkpoints (the single-worker checkpoint format, so
// --resume works across modes and layouts): before a checkpoint step it asks the
// servers for the moments as well, so the state it saves is the servers' state.
// Every blocking wait has a timeout and an error naming the rank and the operation.
#pragma once
#include "comm/comm.h"
#include "parallel/replica.h"
#include "parallel/run_output.h"
#include "parallel/train_summary.h"

namespace plait {

// One rank's run (opt.servers > 0): world ranks N.. serve, the others train (threads:
// N + K ranks in this process; MPI: mpirun -np N+K). `data` and `out` are what this
// process has (servers need neither; under MPI only rank 0's `out` writes). Returns
// the summary (worker 0's counts).
TrainSummary run_ps_rank(comm::Comm& c, const TrainOptions& opt, const RunData* data,
                         RunOutput& out);

}  // namespace plait
