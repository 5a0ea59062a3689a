// A parameter server: server k owns the shard [b, b + n) of the parameter arena and
// of the AdamW moments (ps_protocol.h for the messages, param_server.h for the
// architecture).
//
// Threads of one server rank:
//   handler w (one per worker)  receives worker w's pushes on w's link, hands them to
//                               the server state, waits as the mode says, copies the
//                               reply (params, moments) out under the lock and sends it;
//   the rank's own thread       receives the initial state, then (sync mode) closes
//                               the steps: decides or learns the contributors, sums,
//                               clips, steps AdamW; then joins the handlers.
//
// Ordering invariants (sync):
//   - `closed` is the number of steps applied; the open step is `closed`. A push for
//     step t < closed is late and dropped; t > closed cannot happen, because a worker
//     pushes step t only after every server has answered it with next_step >= t, and
//     it takes the smallest answer.
//   - Server 0 (the leader) decides a step's contributors (worker 0 and the first
//     N-B-1 other workers whose push reached it) under its lock and broadcasts them on
//     the servers' group; every server then waits for exactly those pushes, so all
//     shards of a step average the same gradients. A contributor pushed to every
//     server, so its push reaches the followers too.
//   - A handler writes its push buffer only while its worker's previous reply is out,
//     i.e. never while a step that counts that push is being summed; the summing
//     thread reads only contributors' buffers, whose handlers wait for the close.
//   - Parameters and moments change only in the closing thread (sync) or under the
//     lock (async, stale); replies are copied out under the lock, so a reply is
//     always one consistent state of the shard.
//   - Worker 0 always contributes, so the step after it cannot close before worker 0
//     has its reply: worker 0's reply is exactly the state after its step.
//
// --on-nonfinite rollback (sync): a step whose norm or loss is not finite closes with no
// update on every server alike; every worker then rolls back (parallel/replica.h) and
// worker 0 sends each server its shard of the reloaded checkpoint (a kRollback push).
// The closing thread waits for that (the epoch moves on), then closes steps again from
// the checkpoint's. A push of the new epoch that arrives before worker 0's rollback
// waits for it.
//
// Async and stale: a handler applies its push under the lock as one AdamW update,
// advances its worker's clock, and (stale) waits until every clock has reached
// t + 1 - S before replying. The last iteration waits for every worker's last push,
// so the run ends with every update applied.
//
// Every wait has the run's timeout and an error naming the server, its rank and what
// it waited for; a handler that fails wakes the others, and the rank rethrows the
// first failure once its threads have ended.
//
// Backup workers under MPI (with --checkpoint-dir): a worker's process may die without
// a word (mpirun's recovery flags keep the others). A handler's transfers with its
// worker are then PeerWatch polls (backup_sync.h) that read the worker's heartbeat
// file: a worker w > 0 found gone is dropped (its file marked "dropped", a line on
// stderr) and its handler ends; the steps close with the first N-B pushes as before,
// and fail at once when fewer than N-B workers are left. Worker 0 found gone fails
// the server (it always contributes); the workers' waits for the replies watch the
// servers and worker 0 the same way (ps_worker.cpp), so they end too. A follower server
// receives each step's contributors from server 0 in a watched wait as well, and the
// servers' gradient-norm allreduce is watched transfers (servers_sum): a server that
// dies in a step ends the others with one line naming it and the step.
//
// Test hooks: a server meets the rank-and-step hooks (PLAIT_TEST_KILL etc., run_loop.h)
// of step t as it starts the norm reduction of step t.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "fault/test_hooks.h"
#include "model/adamw.h"
#include "model/params.h"
#include "parallel/backup_sync.h"
#include "parallel/ps_protocol.h"
#include "parallel/replica.h"
#include "parallel/run_loop.h"
#include "util/error.h"

namespace plait::ps {


std::string watched_beat_dir(const TrainOptions& opt, const comm::Group& link) {
  const bool watch = opt.backup_workers > 0 && !opt.checkpoint_dir.empty() &&
                     link.backend() == comm::Backend::mpi;
  return watch ? opt.checkpoint_dir : "";
}

int test_slow_rank() {
  const char* env = std::getenv("PLAIT_TEST_SLOW_RANK");
  return env && *env ? std::atoi(env) : -1;
}

namespace {

using Clock = std::chrono::steady_clock;

class Server {
 public:
  Server(const TrainOptions& opt, const Roles& layout, int k, std::vector<comm::Group>& links,
         comm::Group& servers)
      : opt_(opt),
        mode_(opt.ps_mode),
        L_(layout),
        k_(k),
        b_(layout.shard(k).offset),
        n_(layout.shard(k).count),
        links_(links),
        servers_(servers),
        table_(opt.model),
        params_(n_, 0.0f),
        grads_(n_, 0.0f),
        adam_(table_.specs(), opt.adamw, b_, n_),
        schedule_(opt.lr_schedule()),
        push_(layout.workers, std::vector<float>(n_)),
        heads_(layout.workers),
        arrived_(layout.workers, -1),
        clock_(layout.workers, 0),
        pulled_(layout.workers, 0),
        stale_(layout.workers, 0),
        last_ranks_(layout.workers, 0),
        slow_(test_slow_rank()) {
    timeout_s_ = links.empty() ? 600.0 : links[0].timeout();
    alive_ = layout.workers;
    if (!links.empty()) watch_.beat_dir = watched_beat_dir(opt, links[0]);
    watch_.who = who();
    watch_.self = layout.server_rank(k);
    watch_.stopping = [this] {  // another thread of this server failed
      std::lock_guard lk(m_);
      return failed_;
    };
    if (slow_ <= 0 || slow_ >= L_.workers || opt.backup_workers == 0 || mode_ != PsMode::sync)
      slow_ = -1;
  }

  void run() {
    receive_init();
    std::vector<std::thread> handlers;
    for (int w = 0; w < L_.workers; ++w)
      handlers.emplace_back([this, w] { guarded([&] { handle(w); }); });
    if (mode_ == PsMode::sync) guarded([&] { close_steps(); });
    for (auto& t : handlers) t.join();
    if (error_) std::rethrow_exception(error_);
    const std::int64_t closed = closed_;  // every worker is done or dropped
    links_[0].send(0, kEnd, bytes_of(closed));
  }

 private:
  std::string who() const {
    return "parameter server " + std::to_string(k_) + " (rank " +
           std::to_string(L_.server_rank(k_)) + ")";
  }

  // Runs fn; the first failure is kept and wakes every waiting thread of this server.
  template <class Fn>
  void guarded(Fn fn) {
    try {
      fn();
    } catch (...) {
      std::lock_guard lk(m_);
      if (!error_) error_ = std::current_exception();
      failed_ = true;
      cv_.notify_all();
    }
  }

  // Waits on the lock `lk` until pred(); RuntimeError after the run's timeout or when
  // another thread of this server has failed.
  template <class Pred>
  void wait_for(std::unique_lock<std::mutex>& lk, Pred pred, const std::string& what) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s_);
    while (!pred()) {
      if (failed_) throw RuntimeError(who() + ": stopped waiting for " + what +
                                      " (another thread of the server failed)");
      if (cv_.wait_until(lk, deadline) == std::cv_status::timeout && !pred()) {
        if (failed_) continue;
        throw TimeoutError(who() + ": timed out after " + std::to_string(timeout_s_) +
                           " s waiting for " + what);
      }
    }
  }

  // (watched like the pushes: worker 0 may die before it sends the state)
  void receive_init() {
    comm::Group& link = links_[0];
    InitHead h;
    std::string why;
    const std::string what = "receiving the initial state from worker 0";
    const bool got = watch_.receive(link, 0, kInitHead, bytes_of(h), what, &why) &&
                     watch_.receive(link, 0, kInitParams, bytes_of(params_.data(), n_), what, &why) &&
                     watch_.receive(link, 0, kInitM, bytes_of(adam_.m.data(), n_), what, &why) &&
                     watch_.receive(link, 0, kInitV, bytes_of(adam_.v.data(), n_), what, &why);
    if (!got)
      throw RuntimeError(who() + ": worker 0 (rank 0) is gone before the first step: " + why +
                         "; ending (plait launch restarts the job from the last checkpoint)");
    start_ = h.step;
    end_ = end_step(opt_, start_);
    closed_ = start_;
    std::fill(clock_.begin(), clock_.end(), start_);
  }

  // Handler of worker w: its pushes, one at a time, until it says done (or, backup
  // workers under MPI, its process is found gone: w is dropped).
  void handle(int w) {
    comm::Group& link = links_[w];
    std::vector<float> rp(n_), rm, rv;
    std::vector<uint8_t> ranks(L_.workers);
    std::vector<int32_t> stale(L_.workers);
    std::string why;  // set when a transfer finds w's process gone
    auto recv = [&](std::uint64_t tag, comm::Bytes dst, const std::string& what) {
      return watch_.receive(link, w, tag, dst, what, &why);
    };
    auto send = [&](std::uint64_t tag, comm::ConstBytes data, const std::string& what) {
      return watch_.send(link, w, tag, data, what, &why);
    };
    for (;;) {
      PushHead h;
      if (!recv(kPushHead, bytes_of(h), "receiving its next push")) return drop(w, why);
      if (h.step == kRollback) {
        roll_back(link, h);
        continue;
      }
      if (h.step < 0) return;
      const std::string step = " of step " + std::to_string(h.step + 1);
      if (!recv(kPushGrad, bytes_of(push_[w].data(), n_), "receiving its gradients" + step))
        return drop(w, why);
      ReplyHead r;
      {
        std::unique_lock lk(m_);
        stale_[w] = static_cast<int32_t>(applied_ - pulled_[w]);
        if (mode_ == PsMode::sync) offer_sync(lk, w, h);
        else apply_async(lk, w, h);
        r = stats_;
        pulled_[w] = applied_;
        stale = stale_;
        r.next_step = mode_ == PsMode::sync ? closed_ : h.step + 1;
        ranks = last_ranks_;
        std::copy_n(params_.data(), n_, rp.data());
        if (h.want_moments) {
          rm = adam_.m;
          rv = adam_.v;
        }
      }
      const std::string reply = "sending its reply" + step;
      const bool sent =
          send(kReplyHead, bytes_of(r), reply) &&
          send(kReplyRanks, std::as_bytes(std::span<const uint8_t>(ranks)), reply) &&
          send(kReplyParams, bytes_of(rp.data(), n_), reply) &&
          (mode_ == PsMode::sync ||
           send(kReplyStale, std::as_bytes(std::span<const int32_t>(stale)), reply)) &&
          (!h.want_moments ||
           (send(kReplyM, bytes_of(rm.data(), n_), reply) &&
            send(kReplyV, bytes_of(rv.data(), n_), reply)));
      if (!sent) return drop(w, why);
    }
  }

  // Worker w's process is gone (`why`; empty: this server is failing and stops
  // waiting). Worker 0 always contributes, so its loss fails the server.
  void drop(int w, const std::string& why) {
    if (why.empty()) return;
    int64_t steps = 0;
    {
      std::lock_guard lk(m_);
      steps = closed_;
    }
    if (w == 0)
      throw RuntimeError(who() + ": worker 0 (rank 0), which every step needs, is gone in step " +
                         std::to_string(steps + 1) + ": " + why + "; ending (plait launch "
                         "restarts the job from the last checkpoint)");
    watch_.mark_dropped(w, steps, why);
    std::lock_guard lk(m_);
    --alive_;
    std::fprintf(stderr, "%s: backup workers: worker %d dropped after %lld steps (%s); %d of %d workers left\n",
                 who().c_str(), w, static_cast<long long>(closed_), why.c_str(), alive_,
                 L_.workers);
    cv_.notify_all();
  }

  // --on-nonfinite rollback, from worker 0's link: the checkpoint's shard; step
  // h.seqs is the open step again, in epoch h.epoch.
  void roll_back(comm::Group& link, const PushHead& h) {
    std::vector<float> p(n_), m(n_), v(n_);
    link.recv(0, kInitParams, bytes_of(p.data(), n_));
    link.recv(0, kInitM, bytes_of(m.data(), n_));
    link.recv(0, kInitV, bytes_of(v.data(), n_));
    std::lock_guard lk(m_);
    params_ = std::move(p);
    adam_.m = std::move(m);
    adam_.v = std::move(v);
    closed_ = h.seqs;
    epoch_ = h.epoch;
    std::fill(arrived_.begin(), arrived_.end(), -1);
    order_.clear();
    decided_ = false;
    cv_.notify_all();
  }

  // Sync: registers w's push for the open step (or drops it, late), then waits until
  // the step it belongs to has closed.
  void offer_sync(std::unique_lock<std::mutex>& lk, int w, const PushHead& h) {
    const std::string step = "step " + std::to_string(h.step);
    wait_for(lk, [&] { return epoch_ >= h.epoch; },
             "worker 0's rollback before rank " + std::to_string(w) + "'s push of " + step);
    if (h.step > closed_)
      throw RuntimeError(who() + ": worker " + std::to_string(w) + " pushed " + step +
                         " but only " + std::to_string(closed_) + " steps are closed");
    if (w == slow_)  // test hook: hold the push until its step has closed without it
      wait_for(lk, [&] { return closed_ > h.step; },
               "the close of " + step + " (holding rank " + std::to_string(w) + ")");
    const bool late = h.step < closed_ || (decided_ && !contributors_[w]);
    if (!late) {
      arrived_[w] = h.step;
      heads_[w] = h;
      if (w != 0) order_.push_back(w);
      cv_.notify_all();
    }
    wait_for(lk, [&] { return closed_ > h.step; },
             "the close of " + step + " after rank " + std::to_string(w) + "'s push");
  }

  // Sync: the rank's own thread closes steps start..end-1.
  void close_steps() {
    const int N = L_.workers;
    const int need = N - opt_.backup_workers;
    std::vector<uint8_t> set(N, 0);
    for (int64_t t = start_; t < end_;) {
      const std::string step = "step " + std::to_string(t);
      int64_t epoch = 0;  // before the step closes: a rollback can only follow its replies
      {
        std::lock_guard lk(m_);
        epoch = epoch_;
      }
      std::fill(set.begin(), set.end(), 0);
      if (k_ == 0) {
        std::unique_lock lk(m_);
        const auto pushed = [&] {
          return arrived_[0] == t && static_cast<int>(order_.size()) >= need - 1;
        };
        wait_for(lk, [&] { return pushed() || alive_ < need; },
                 "the pushes of " + step + " (worker 0 and " + std::to_string(need - 1) + " others)");
        if (!pushed())
          throw RuntimeError(who() + ": " + step + " needs " + std::to_string(need) +
                             " workers' pushes (--backup-workers " +
                             std::to_string(opt_.backup_workers) + ") but only " +
                             std::to_string(alive_) + " of " + std::to_string(N) + " are left");
        set[0] = 1;
        for (int i = 0; i < need - 1; ++i) set[order_[i]] = 1;
        contributors_ = set;
        decided_ = true;
      }
      if (L_.servers > 1) share_contributors(set, step);
      if (k_ != 0) {
        std::unique_lock lk(m_);
        contributors_ = set;
        decided_ = true;
        wait_for(lk, [&] {
          for (int w = 0; w < N; ++w)
            if (set[w] && arrived_[w] != t) return false;
          return true;
        }, "the pushes of " + step + " from the ranks server 0 chose");
      }
      if (apply_sync(t, set) || opt_.on_nonfinite != NonFinite::rollback) {
        ++t;
        continue;
      }
      std::unique_lock lk(m_);  // every worker rolls back; worker 0 sends the state
      wait_for(lk, [&] { return epoch_ > epoch; }, "worker 0's rollback after " + step);
      t = closed_;
    }
  }

  // Server 0 tells the others the contributors it chose (point-to-point on the servers'
  // group, watched like a worker: a follower must not wait for a server 0 that failed).
  void share_contributors(std::vector<uint8_t>& set, const std::string& step) {
    const auto bytes = std::as_writable_bytes(std::span<uint8_t>(set));
    std::string why;
    const std::string what = "server 0's choice of the contributors to " + step;
    bool ok = true;
    if (k_ == 0) {
      for (int k = 1; k < L_.servers && ok; ++k)
        ok = watch_.send(servers_, k, kContributors, bytes, "sending " + what, &why);
    } else {
      ok = watch_.receive(servers_, 0, kContributors, bytes, "receiving " + what, &why);
    }
    if (ok) return;
    throw RuntimeError(who() + ": stopped " + (k_ == 0 ? "sending " : "receiving ") + what +
                       (why.empty() ? std::string(" (another thread of the server failed)")
                                    : ": the peer is gone: " + why));
  }

  // The servers' sum of each one's `sq` for step t (the square of the global gradient
  // norm). Unwatched: the servers' allreduce. Watched (backup workers under MPI): every
  // server sends its value to every other in PeerWatch transfers, so that a server whose
  // process dies in the step ends the others within seconds, with one line naming it,
  // instead of leaving them in a collective until --timeout; the sum is taken in the
  // ring allreduce's order for the one element (servers 1, 2, ..., K-1, 0), so both
  // give the same bits.
  double servers_sum(double sq, int64_t t) {
    if (watch_.beat_dir.empty()) {
      comm::allreduce(servers_, std::span<double>(&sq, 1));
      return sq;
    }
    const int K = L_.servers;
    std::vector<double> part(K, 0.0);
    part[k_] = sq;
    std::vector<comm::Request> sends(K), recvs(K);
    for (int j = 0; j < K; ++j) {
      if (j == k_) continue;
      recvs[j] = servers_.irecv(j, kNorm, bytes_of(part[j]));
      sends[j] = servers_.isend(j, kNorm, bytes_of(std::as_const(part[k_])));
    }
    const std::string op = "the servers' gradient-norm allreduce of step " + std::to_string(t + 1);
    std::string why;
    for (std::vector<comm::Request>* q : {&recvs, &sends})
      for (int j = 0; j < K; ++j) {
        if (j == k_ || watch_.await(servers_, j, (*q)[j], op + " (parameter server " +
                                    std::to_string(j) + ")", &why))
          continue;
        if (why.empty())
          throw RuntimeError(who() + ": stopped " + op + " (another thread of the server failed)");
        throw RuntimeError(who() + ": parameter server " + std::to_string(j) + " (rank " +
                           std::to_string(L_.server_rank(j)) + ") is gone in " + op + ": " + why +
                           "; ending (plait launch restarts the job from the last checkpoint)");
      }
    double sum = part[1 % K];
    for (int j = 2; j <= K; ++j) sum += part[j % K];
    return sum;
  }

  // Sum in worker order, divide by the contributed sequences once, clip by the global
  // norm, AdamW on the shard; then close step t. Returns whether it was finite.
  bool apply_sync(int64_t t, const std::vector<uint8_t>& set) {
    float* g = grads_.data();
    bool first = true;
    double loss_sum = 0;
    int64_t seqs = 0;
    for (int w = 0; w < L_.workers; ++w) {
      if (!set[w]) continue;
      const float* p = push_[w].data();
      if (first) std::copy_n(p, n_, g);
      else
        for (size_t i = 0; i < n_; ++i) g[i] += p[i];
      first = false;
      loss_sum += heads_[w].loss_sum;
      seqs += heads_[w].seqs;
    }
    const float inv = 1.0f / static_cast<float>(std::max<int64_t>(1, seqs));
    double sq = 0;
    for (size_t i = 0; i < n_; ++i) {
      g[i] *= inv;
      sq += static_cast<double>(g[i]) * g[i];
    }
    meet_test_faults(hooks_, opt_.checkpoint_dir, t);  // a server killed in the allreduce
    if (L_.servers > 1) sq = servers_sum(sq, t);
    const double norm = std::sqrt(sq);
    // --on-nonfinite: a step whose global norm or loss is not finite updates nothing
    // (every server sees the same norm and loss); the workers are told by the reply
    const bool finite = std::isfinite(norm) && std::isfinite(loss_sum);
    if (finite && opt_.adamw.clip_norm > 0) {
      const double coef = opt_.adamw.clip_norm / (norm + 1e-6);
      if (coef < 1.0) {
        const float c = static_cast<float>(coef);
        for (size_t i = 0; i < n_; ++i) g[i] *= c;
      }
    }
    const float lr = schedule_.at(t);
    if (finite) adam_.step_shard(params_, grads_, lr, t + 1);
    std::lock_guard lk(m_);
    stats_ = ReplyHead{};
    stats_.stats_step = t;
    stats_.loss_sum = loss_sum;
    stats_.seqs = seqs;
    stats_.grad_norm = norm;
    stats_.lr = lr;
    last_ranks_ = set;
    closed_ = t + 1;
    order_.clear();
    decided_ = false;
    cv_.notify_all();
    return finite;
  }

  // Async and stale: w's push is one AdamW update of its own, applied now.
  void apply_async(std::unique_lock<std::mutex>& lk, int w, const PushHead& h) {
    const int64_t t = h.step;
    const float base_lr = schedule_.at(t);
    if (h.seqs > 0 && std::isfinite(h.grad_norm) && std::isfinite(h.loss_sum)) {
      // (a non-finite push updates nothing: --on-nonfinite)
      // The mean gradient over w's sequences, clipped by its own norm, with the step's
      // learning rate scaled by w's share of the batch.
      const double norm = h.grad_norm / static_cast<double>(h.seqs);
      float scale = 1.0f / static_cast<float>(h.seqs);
      if (opt_.adamw.clip_norm > 0) {
        const double coef = opt_.adamw.clip_norm / (norm + 1e-6);
        if (coef < 1.0) scale *= static_cast<float>(coef);
      }
      float* g = grads_.data();
      const float* p = push_[w].data();
      for (size_t i = 0; i < n_; ++i) g[i] = p[i] * scale;
      const float lr = base_lr * static_cast<float>(h.seqs) / static_cast<float>(opt_.batch);
      adam_.step_shard(params_, grads_, lr, t + 1);
    }
    stats_ = ReplyHead{};
    stats_.stats_step = t;
    stats_.loss_sum = h.loss_sum;
    stats_.seqs = h.seqs;
    stats_.grad_norm = h.seqs > 0 ? h.grad_norm / static_cast<double>(h.seqs) : 0;
    stats_.lr = base_lr;
    std::fill(last_ranks_.begin(), last_ranks_.end(), 0);
    last_ranks_[w] = 1;
    clock_[w] = t + 1;
    ++applied_;
    cv_.notify_all();
    // Stale synchronous parallel: w may start iteration t+1 once every worker has
    // pushed iteration t+1-S. The last iteration waits for everyone.
    int64_t bound = t + 1 >= end_ ? end_ : (mode_ == PsMode::stale ? t + 1 - opt_.staleness : 0);
    if (bound <= start_) return;
    wait_for(lk, [&] { return *std::min_element(clock_.begin(), clock_.end()) >= bound; },
             "every worker to push iteration " + std::to_string(bound - 1) + " (rank " +
                 std::to_string(w) + " at " + std::to_string(t) + "; slowest clocks: " +
                 ranks_text(slowest()) + ")");
  }

  std::vector<int> slowest() const {
    const int64_t lo = *std::min_element(clock_.begin(), clock_.end());
    std::vector<int> r;
    for (int w = 0; w < L_.workers; ++w)
      if (clock_[w] == lo) r.push_back(w);
    return r;
  }

  const TrainOptions& opt_;
  const PsMode mode_;
  const Roles L_;
  const int k_;
  const size_t b_, n_;
  std::vector<comm::Group>& links_;
  comm::Group& servers_;
  ParamTable table_;
  std::vector<float> params_, grads_;  // the shard [b_, b_ + n_) only
  AdamW adam_;                         // the shard's moments only
  LrSchedule schedule_;
  std::vector<std::vector<float>> push_;  // per worker: its last push's gradient shard
  std::vector<PushHead> heads_;           // per worker: its last registered push
  double timeout_s_ = 600;
  int64_t start_ = 0, end_ = 0;

  std::mutex m_;
  std::condition_variable cv_;
  int64_t closed_ = 0;                 // sync: steps applied
  int64_t epoch_ = 0;                  // sync: rollbacks taken (--on-nonfinite rollback)
  std::vector<int64_t> arrived_;       // sync: per worker, the step of its registered push
  std::vector<int> order_;             // sync: other workers' pushes of the open step, by arrival
  std::vector<uint8_t> contributors_;  // sync: the open step's contributors, once decided_
  bool decided_ = false;
  std::vector<int64_t> clock_;         // async/stale: iterations each worker has pushed
  int64_t applied_ = 0;                // async/stale: pushes applied (AdamW updates)
  std::vector<int64_t> pulled_;        // async/stale: per worker, applied_ at its last reply
  std::vector<int32_t> stale_;         // async/stale: per worker, its latest push's staleness
  ReplyHead stats_;                    // the last closed step (sync) or applied push
  std::vector<uint8_t> last_ranks_;    // who contributed to it
  int slow_;
  PeerWatch watch_;                    // backup workers under MPI: polls judging heartbeats
  fault::RankStepHooks hooks_ = fault::RankStepHooks::from_env();  // PLAIT_TEST_KILL etc.
  int alive_ = 0;                      // workers not dropped
  bool failed_ = false;
  std::exception_ptr error_;
};

}  // namespace

void serve(const TrainOptions& opt, const Roles& layout, int k, std::vector<comm::Group>& links,
           comm::Group& servers) {
  Server s(opt, layout, k, links, servers);
  s.run();
}

}  // namespace plait::ps
