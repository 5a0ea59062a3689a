// The workers of parameter-server training, and the run's entry point (threads or
// MPI). Architecture and messages: param_server.h, ps_protocol.h.
//
// A worker's step t: zero the gradients, accumulate the SUM over its share of global
// batch t (Replica::accumulate, exactly as data parallelism), then for every server k
// post the push (header, gradient shard k) and the receives of the reply (header,
// contributing ranks, parameter shard k straight into the model, and the moment
// shards when asked), and wait for the receives, then the sends. The next step is the
// smallest next_step the servers answered: t + 1, except for a worker whose sync push
// came too late (backup workers), which resumes at the servers' step.
//
// Worker 0 logs each step (sync: the servers' global loss and norm; async and stale:
// its own push's), evaluates on the parameters it pulled, and before a checkpoint step
// asks for the moments too, so that the checkpoint holds the servers' state after
// that step, in the single-worker format.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "balance/split.h"
#include "comm/comm.h"
#include "fault/finite.h"
#include "model/params.h"
#include "parallel/backup_sync.h"
#include "parallel/dp_balance.h"
#include "parallel/param_server.h"
#include "parallel/ps_protocol.h"
#include "parallel/replica.h"
#include "parallel/run_loop.h"
#include "parallel/train_state.h"
#include "util/error.h"

namespace plait {
namespace {

using namespace ps;


class PsWorker : public StepRunner {
 public:
  PsWorker(Replica& r, const Roles& L, comm::Group& link)
      : r_(r), L_(L), link_(link), mode_(r.opt.ps_mode) {
    // Backup workers under MPI: the waits for the servers' replies judge the servers and
    // worker 0 by their heartbeat files (PeerWatch): a server fails when worker 0 dies
    // (it always contributes), and the other workers must then end, not wait for
    // --timeout; a worker that the servers dropped while it was stopped learns it.
    watch_.beat_dir = watched_beat_dir(r.opt, link);
    watch_.self = r.rank;
    watch_.who = "parameter server: worker " + std::to_string(r.rank) + " (rank " +
                 std::to_string(r.rank) + ")";
    for (int k = 0; k < L.servers; ++k) watch_.also.push_back(L.server_rank(k));
    if (r.rank != 0) watch_.also.push_back(0);
  }

  // Worker 0: the state the run starts from, to every server.
  void send_init() {
    const InitHead h{r_.step};
    send_state(kInitHead, bytes_of(h));
  }

  // --on-nonfinite rollback (sync; collective over the workers): every worker reloads
  // the newest checkpoint and shifts its data (Replica::rollback); worker 0 sends the
  // servers their shards of it, which reopens the checkpoint's step there.
  int64_t rollback(int64_t failed) override {
    const int64_t c = r_.rollback(failed);
    ++epoch_;
    next_ = c;
    if (r_.out) {
      PushHead h;
      h.step = kRollback;
      h.seqs = c;
      h.epoch = epoch_;
      send_state(kPushHead, bytes_of(h));
    }
    return c;
  }

  // The header `head` (tag `tag`), then the parameters and both moments, each server
  // its shard.
  void send_state(Tag tag, comm::ConstBytes head) {
    std::vector<comm::Request> sends;
    for (int k = 0; k < L_.servers; ++k) {
      const comm::Shard s = L_.shard(k);
      const int to = L_.server_rank(k);
      sends.push_back(link_.isend(to, tag, head));
      sends.push_back(link_.isend(to, kInitParams, bytes_of(r_.model.params.data() + s.offset, s.count)));
      sends.push_back(link_.isend(to, kInitM, bytes_of(r_.adam.m.data() + s.offset, s.count)));
      sends.push_back(link_.isend(to, kInitV, bytes_of(r_.adam.v.data() + s.offset, s.count)));
    }
    for (auto& q : sends) link_.wait(q);
  }

  // StepRunner: step t is a push of the gradient sum and a pull of the parameters;
  // worker 0 logs the servers' statistics (sync) or its own push's (async, stale).
  StepResult run_step(int64_t t, bool checkpoint_after) override {
    r_.step = t;
    r_.model.zero_grads();
    PushHead h;
    h.step = t;
    h.seqs = r_.seqs;
    h.loss_sum = r_.accumulate();
    if (!nan_injected_)
      nan_injected_ = inject_nan_for_test(r_.model.table().specs(), t, r_.model.grads);
    if (mode_ != PsMode::sync) h.grad_norm = grad_norm(r_.model.grads);
    h.want_moments = r_.out && checkpoint_after;
    h.epoch = epoch_;
    const auto w0 = std::chrono::steady_clock::now();
    const ReplyHead reply = push_pull(h);
    r_.timing.wait_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
    StepResult res;
    res.next = r_.step = next_;
    if (!r_.out && r_.opt.on_nonfinite == NonFinite::rollback) {
      // every worker learns the servers' loss and norm: all roll back at the same step
      res.loss = reply.loss_sum / static_cast<double>(std::max<int64_t>(1, reply.seqs));
      res.grad_norm = reply.grad_norm;
    }
    if (!r_.out) return res;
    if (next_ != t + 1)
      throw RuntimeError("parameter server: worker 0 was answered step " +
                         std::to_string(next_) + " after step " + std::to_string(t) +
                         " (it always contributes, so this is a bug)");
    if (mode_ == PsMode::sync) {
      res.loss = reply.loss_sum / static_cast<double>(std::max<int64_t>(1, reply.seqs));
      res.grad_norm = reply.grad_norm;
      res.lr = reply.lr;
      if (r_.opt.backup_workers > 0) report_contributors(t, reply);
    } else {
      report_staleness();
      res.loss = h.loss_sum / static_cast<double>(std::max<int64_t>(1, h.seqs));
      res.grad_norm = h.seqs > 0 ? h.grad_norm / static_cast<double>(h.seqs) : 0;
      res.lr = r_.schedule.at(t);
    }
    return res;
  }

  // Worker 0 evaluates on the parameters it pulled and saves the servers' state (the
  // moments came with the last pull).
  double validation_loss() override { return r_.validation_loss(); }
  std::string save(int64_t steps) override { return r_.save(steps); }
  BalanceHook* balance_hook() override { return r_.balance; }
  StepTiming step_timing() const override { return r_.timing; }
  // worker 0's own gradient sum (another worker's NaN is not seen here)
  std::string nonfinite_tensor() const override { return r_.nonfinite_tensor(); }
  void wait_for_checkpoints() override { r_.wait_for_checkpoints(); }

  // After the last step: tells every server this worker is done; worker 0 then waits
  // until every server has ended (ps_protocol.h, kEnd). Under backup workers (MPI) a
  // server found gone fails worker 0 (PeerWatch, backup_sync.h).
  void finish() {
    const PushHead done;  // step -1
    for (int k = 0; k < L_.servers; ++k) link_.send(L_.server_rank(k), kPushHead, bytes_of(done));
    if (!r_.out) return;
    PeerWatch watch = watch_;  // each server on its own: they end one by one
    watch.also.clear();
    for (int k = 0; k < L_.servers; ++k) {
      std::int64_t closed = 0;
      std::string why;
      const std::string server = "parameter server " + std::to_string(k) + " (rank " +
                                 std::to_string(L_.server_rank(k)) + ")";
      if (!watch.receive(link_, L_.server_rank(k), kEnd, bytes_of(closed),
                         "waiting for " + server + " to end", &why))
        throw RuntimeError("parameter server: worker 0 waited for " + server +
                           " to end, and it is gone: " + why);
    }
  }

  std::string describe() const override {
    const TrainOptions& opt = r_.opt;
    char buf[400];
    std::snprintf(buf, sizeof buf,
                  "training %zu parameters (%d layers, dim %d, %d heads, ctx %d) on %s: "
                  "%lld train / %lld validation bytes, batch %d; parameter server (%s): "
                  "%d workers + %d servers",
                  r_.model.table().total(), opt.model.layers, opt.model.dim, opt.model.heads,
                  opt.model.ctx, r_.data.dataset.name.c_str(),
                  static_cast<long long>(r_.data.dataset.train.size()),
                  static_cast<long long>(r_.data.dataset.val.size()), opt.batch,
                  to_string(mode_), L_.workers, L_.servers);
    std::string s = buf;
    if (mode_ == PsMode::stale) s += ", staleness " + std::to_string(opt.staleness);
    if (opt.backup_workers > 0)
      s += ", " + std::to_string(opt.backup_workers) + " backup worker" +
           (opt.backup_workers == 1 ? "" : "s");
    return s;
  }

 private:
  // One push of h to every server and their replies; returns server 0's header and
  // sets next_ (the smallest next step) and ranks_ (server 0's contributing ranks).
  ReplyHead push_pull(const PushHead& h) {
    const int K = L_.servers;
    std::vector<ReplyHead> replies(K);
    std::vector<std::vector<uint8_t>> ranks(K, std::vector<uint8_t>(L_.workers));
    std::vector<std::vector<int32_t>> stale(K, std::vector<int32_t>(L_.workers));
    std::vector<comm::Request> sends, recvs;
    std::vector<int> send_to, recv_from;  // the server of each request
    for (int k = 0; k < K; ++k) {
      const comm::Shard s = L_.shard(k);
      const int to = L_.server_rank(k);
      sends.push_back(link_.isend(to, kPushHead, bytes_of(h)));
      sends.push_back(link_.isend(to, kPushGrad, bytes_of(r_.model.grads.data() + s.offset, s.count)));
      recvs.push_back(link_.irecv(to, kReplyHead, bytes_of(replies[k])));
      recvs.push_back(link_.irecv(to, kReplyRanks, std::as_writable_bytes(std::span(ranks[k]))));
      recvs.push_back(link_.irecv(to, kReplyParams, bytes_of(r_.model.params.data() + s.offset, s.count)));
      if (mode_ != PsMode::sync)
        recvs.push_back(link_.irecv(to, kReplyStale, std::as_writable_bytes(std::span(stale[k]))));
      if (h.want_moments) {
        recvs.push_back(link_.irecv(to, kReplyM, bytes_of(r_.adam.m.data() + s.offset, s.count)));
        recvs.push_back(link_.irecv(to, kReplyV, bytes_of(r_.adam.v.data() + s.offset, s.count)));
      }
      send_to.resize(sends.size(), k);
      recv_from.resize(recvs.size(), k);
    }
    const std::string step = "step " + std::to_string(h.step + 1);
    for (size_t i = 0; i < recvs.size(); ++i) await(recvs[i], recv_from[i], "receiving the reply to " + step);
    for (size_t i = 0; i < sends.size(); ++i) await(sends[i], send_to[i], "sending its push of " + step);
    next_ = replies[0].next_step;
    for (const auto& rep : replies) next_ = std::min(next_, rep.next_step);
    ranks_ = ranks[0];
    stale_ = stale[0];
    return replies[0];
  }

  // Completes q, a transfer with server k; unwatched, a plain wait (the transport's
  // timeout). A peer found gone ends this worker with one line naming the dead rank:
  // worker 0 when it is gone (the servers fail after it), else the server.
  void await(comm::Request& q, int k, const std::string& what) {
    const int server = L_.server_rank(k);
    if (watch_.beat_dir.empty()) {
      link_.wait(q);
      return;
    }
    std::string why;
    if (watch_.await(link_, server, q, what + " (parameter server " + std::to_string(k) + ")", &why))
      return;
    std::string dead = r_.rank != 0 ? watch_.gone(0) : "";
    std::string rank = "worker 0 (rank 0)";
    for (int j = 0; j < L_.servers && dead.empty(); ++j) {
      dead = watch_.gone(L_.server_rank(j));
      rank = "parameter server " + std::to_string(j) + " (rank " + std::to_string(L_.server_rank(j)) + ")";
    }
    if (dead.empty()) {  // it came back between the looks: name what the wait saw
      dead = why;
      rank = "a peer of parameter server " + std::to_string(k) + " (rank " + std::to_string(server) + ")";
    }
    throw RuntimeError(watch_.who + " stopped " + what + " from parameter server " +
                       std::to_string(k) + " (rank " + std::to_string(server) + "): " + rank +
                       " is gone: " + dead + "; ending (plait launch restarts the job from the "
                       "last checkpoint)");
  }

  // Async and stale: server 0's staleness of every worker's latest push (updates it
  // applied between that worker's previous pull and the push), in the metrics line
  // (rank_staleness) and the progress line.
  void report_staleness() {
    r_.out->attach("rank_staleness", stale_);
    std::string s;
    for (int32_t x : stale_) {
      if (!s.empty()) s += ' ';
      s += std::to_string(x);
    }
    r_.out->show("stale", s);
  }

  // Backup workers: a metrics event every step; a log line when the set changes.
  void report_contributors(int64_t t, const ReplyHead& reply) {
    std::vector<int> in, out;
    for (int w = 0; w < L_.workers; ++w) (ranks_[w] ? in : out).push_back(w);
    r_.out->event({{"event", "ps_step"}, {"step", t + 1}, {"contributed", in},
                   {"dropped", out}, {"sequences", reply.seqs}});
    if (out == last_dropped_) return;
    last_dropped_ = out;
    r_.out->message("backup workers: step " + std::to_string(t + 1) + ": ranks " +
                    ranks_text(in) + " contributed (" + std::to_string(reply.seqs) + " of " +
                    std::to_string(r_.opt.batch) + " sequences), rank" +
                    (out.size() == 1 ? " " : "s ") + ranks_text(out) + " dropped");
  }

  Replica& r_;
  const Roles L_;
  comm::Group& link_;
  const PsMode mode_;
  bool nan_injected_ = false;  // the PLAIT_TEST_NAN_AT hook fired (once per worker)
  int64_t epoch_ = 0;          // rollbacks taken (--on-nonfinite rollback)
  int64_t next_ = 0;
  std::vector<uint8_t> ranks_;
  std::vector<int32_t> stale_;  // async, stale: server 0's staleness per worker
  std::vector<int> last_dropped_;
  PeerWatch watch_;  // its beat_dir: backup workers under MPI with --checkpoint-dir
};

}  // namespace

TrainSummary run_ps_rank(comm::Comm& c, const TrainOptions& opt, const RunData* data,
                         RunOutput& out) {
  const int K = opt.servers;
  const int N = c.size() - K;
  const Roles L{N, K, ParamTable(opt.model).total()};
  comm::Group world = c.world();
  std::vector<comm::Group> links;  // collective: every rank makes them in this order
  for (int w = 0; w < N; ++w) links.push_back(world.dup("ps-link-" + std::to_string(w)));
  const bool server = c.rank() >= N;
  comm::Group servers = world.split(server ? 0 : -1, c.rank(), "ps-servers");
  comm::Group workers = world.split(server ? -1 : 0, c.rank(), "ps-workers");
  if (server) {
    serve(opt, L, c.rank() - N, links, servers);
    return {};
  }
  const auto shares = opt.speeds.empty() ? balance::split_equal(opt.batch, N)
                                          : balance::split_proportional(opt.batch, opt.speeds);
  const auto starts = balance::split_starts(shares);
  Replica r(opt, *data, c.rank(), starts[c.rank()], shares[c.rank()]);
  if (c.rank() == 0) {
    r.out = &out;
    r.trace = &out.trace();
  }
  // Measured and balanced like data parallelism, over the workers' own group
  // (dp_balance.h), except with backup workers (a worker that is dropped skips steps;
  // an exchange would make everyone wait for the straggler they exist to drop). Async
  // and stale measure only under --balance auto, exchanging timings once per
  // --balance-every window (an exchange is a barrier among the workers).
  std::optional<DpBalance> balance;
  const bool sync = opt.ps_mode == PsMode::sync;
  if (opt.backup_workers == 0 && (sync || opt.balance_mode() == BalanceMode::automatic))
    balance.emplace(workers, replica_target(r), shares, balance_config(opt), sync ? 1 : opt.balance_every);
  r.barrier = [&workers] { comm::barrier(workers); };  // --on-nonfinite rollback
  r.start();
  if (balance) {
    if (opt.resume) balance->restore(r.resumed_extra);
    r.balance = &*balance;
  }
  PsWorker w(r, L, links[c.rank()]);
  if (c.rank() == 0) w.send_init();
  const bool chief = r.out != nullptr;
  TrainSummary sum;
  try {
    sum = run_loop(w, opt, {r.out, chief, chief}, r.step, end_step(opt, r.step));
  } catch (const Dropped& e) {  // stopped, dropped, then resumed: the servers go on without it
    say_dropped(e, r.step);
    return {};
  }
  w.finish();
  return sum;
}

}  // namespace plait
