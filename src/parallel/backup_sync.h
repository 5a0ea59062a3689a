// Backup workers for data parallelism without parameter servers (--backup-workers B,
// docs/DATA_PARALLEL.md "Backup workers"): a step proceeds with the gradients of the
// first N - B ranks to finish it, so a straggler does not stall the step, and a rank
// whose thread fails leaves the run instead of ending it.
//
// It CHANGES THE MATH (off by default): a step's update is the mean gradient over the
// sequences of the ranks that contributed (the divisor is their sequence count, not
// --batch), and which ranks contribute depends on timing. A step is exact for its
// contributors' sequences: equal, up to float addition order, to one worker training
// on exactly those sequences.
//
// Protocol (a rank-0-led gather with a deadline, then a reply of the result). Each
// rank w > 0 talks to rank 0 on a link group of its own ("backup-link-<w>": world
// ranks {0, w}); rank 0 runs one handler thread per link. Per step t every rank w > 0
// sends an UpHead (its gradient SUM over its share follows), then receives a DownHead
// and the reduced gradient SUM of step t, which replaces its own; so every rank
// applies the same update and the replicas stay bit-identical.
//
//   rank 0 (main thread)  computes its own share, waits until need - 1 other ranks'
//                         gradients of step t have arrived (need = min(N - B, ranks
//                         alive)), takes the first need - 1 to arrive, sums its own
//                         and theirs IN RANK ORDER (so a given set always gives the
//                         same bits), closes step t (keeps the result until every
//                         live rank has fetched it) and goes on.
//   handler of rank w     receives w's message of step t; if step t is still open it
//                         reports the arrival, else (late) the gradient is dropped;
//                         waits until step t is closed; replies with step t's result.
//   rank w > 0            a rank that learns from a reply that steps up to c are
//                         already closed (it is behind) skips computing them: it
//                         sends a header only and applies their results, so a
//                         persistent straggler catches up instead of falling behind.
//
// Rank 0 always contributes (it logs, evaluates and checkpoints the state after each
// step). A rank w > 0 whose run fails (an exception) sends a "leave" header and ends:
// rank 0 drops it at once and continues on the others (logged, metrics event
// `worker_dropped`). A rank that sends nothing within the collective timeout
// (--timeout) is dropped the same way, with an error naming the rank and the operation.
//
// A process that dies (kill -9, the OOM killer; MPI) sends nothing. With
// watch_heartbeats(RUN_DIR) (MPI with --checkpoint-dir) every wait on a peer is a poll
// that also reads the peer's heartbeat file (fault/heartbeat.h; its process rewrites it
// every 0.25 s whatever it does): a file that has stopped changing for kGoneSeconds, or
// says its rank ended, means the process is gone (or stopped). Rank 0 then drops the
// rank at once (and rewrites its file as ended, phase "dropped", so that the watchdog,
// `plait status` and a supervisor see it ended); a rank w > 0 that finds rank 0 gone
// fails. The job outlives the dead process only when mpirun lets it: OpenMPI's
// `--enable-recovery --mca orte_abort_on_non_zero_status 0` (plait launch adds them,
// docs/DATA_PARALLEL.md). At the end every live rank sends a hash of its parameters and rank
// 0 checks they equal its own.
//
// Test hook: PLAIT_TEST_SLOW_RANK=w (w > 0) makes rank 0's handler hold rank w's
// gradient until the step it belongs to has closed without it, so with B >= 1 rank w
// never contributes, whatever the timing (the parameter server's hook, same meaning).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "comm/group.h"
#include "parallel/replica.h"
#include "util/error.h"

namespace plait {

// Whether this MPI rank's mpirun keeps the other ranks running when one dies (it was
// started with --enable-recovery --mca orte_abort_on_non_zero_status 0, which mpirun
// passes to its ranks as OMPI_MCA_* variables).
bool mpirun_keeps_survivors();

// Waiting on a peer whose process may die without a word (kill -9, the OOM killer;
// MPI under mpirun's recovery flags): backup workers' links (below) and the parameter
// server's handlers of its workers (ps_server.cpp). With `beat_dir` (RUN_DIR, MPI with
// --checkpoint-dir) a transfer is a poll that also reads the peer's heartbeat file
// (fault/heartbeat.h; its process rewrites it every 0.25 s whatever it does): a file
// that has stopped changing for kGoneSeconds, or says its rank ended, means the process
// is gone (or stopped). Without it a transfer blocks, bounded by the transport's timeout.
//
// A rank that was dropped while its process was stopped (SIGSTOP) and is then resumed
// would wait for a reply that never comes: mark_dropped leaves a marker beside the
// heartbeat files (heartbeat/dropped-rank-<r>.json: the dropped process's pid, the steps
// closed, the dropper's rank and why), and a wait of the rank `self` whose process the
// marker names throws Dropped instead (one line: who was dropped at which step, by whom).
struct PeerWatch {
  std::string beat_dir;             // empty: blocking transfers
  std::string who;                  // the waiter, for the --timeout error ("backup workers: rank 0")
  std::function<bool()> stopping;   // may be empty; true abandons a wait (false, `why` empty)
  int self = -1;                    // the waiter's world rank (for mark_dropped and Dropped)
  std::vector<int> also;            // world ranks judged at each look besides the peer
                                    // (a parameter-server worker cannot go on when any
                                    // server, or worker 0, is gone)
  static constexpr double kGoneSeconds = 2.0;

  // Sends to / receives from `peer` on `link`; false, with `why` set, when the peer's
  // process is found gone (the request is abandoned: a receive cancelled, a send freed).
  // `what`: the operation, for the --timeout error ("receiving rank 0's reply to step 5").
  bool send(comm::Group& link, int peer, std::uint64_t tag, comm::ConstBytes data,
            const std::string& what, std::string* why) const;
  bool receive(comm::Group& link, int peer, std::uint64_t tag, comm::Bytes dst,
               const std::string& what, std::string* why) const;
  bool await(comm::Group& link, int peer, comm::Request& q, const std::string& what,
             std::string* why) const;
  std::string gone(int world_rank) const;  // why the rank's process is gone, or ""
  // The dropped rank's file says it ended (phase "dropped", activity `why`), so that the
  // watchdog, `plait status` and a supervisor see it ended; this process's watchdog
  // leaves it out (fault::mark_rank_dropped); the marker above tells the rank itself,
  // should its process resume. `steps`: the steps closed when it was dropped. Nothing
  // without beat_dir.
  void mark_dropped(int world_rank, std::int64_t steps, const std::string& why) const;
  // Throws Dropped when a peer has dropped this process's rank (the marker above).
  void check_dropped() const;
};

// A wait of a rank that its peers have dropped (PeerWatch::check_dropped): the run goes
// on without it, so its process ends quietly (exit code 0) after saying so.
struct Dropped : RuntimeError {
  Dropped(std::string who, int by, std::int64_t closed, std::string why);
  std::string who;            // PeerWatch::who of the dropped rank
  int by = -1;                // the dropper's world rank
  std::int64_t closed = 0;    // the steps it had closed then
  std::string why;            // its reason ("its heartbeat stopped 2.1 s ago ...")
};
// What a dropped rank does instead of failing: one line on stderr naming `step` (the
// rank's own, 0-based), and phase "dropped" in its heartbeat; the caller then returns
// normally.
void say_dropped(const Dropped& e, std::int64_t step);

class BackupSync final : public GradSync {
 public:
  // Collective over `world` (every rank makes the link groups). `step` is the replica's
  // step counter (read at each step); `seqs` its share. `backup` = B >= 1. `out`: rank
  // 0's output (the log lines and events), null elsewhere.
  BackupSync(comm::Group& world, int backup, const int64_t& step, const int64_t& seqs,
             size_t floats, int64_t start, RunOutput* out, bool progress);
  ~BackupSync() override;
  BackupSync(const BackupSync&) = delete;
  BackupSync& operator=(const BackupSync&) = delete;

  void begin_step(std::vector<float>& grads) override;
  void ready(size_t) override {}
  double finish(double loss_sum) override;
  // Throws RuntimeError: the step's loss is its contributors', known only with their
  // gradients (finish); a backup-worker replica has no StepExchange.
  void finish_gradients() override;
  bool wants_gradients() const override;
  int64_t divisor(int64_t) const override { return last_seqs_; }

  // Rank 0, after each finish(): the step's contributors and the ranks that left since
  // the previous report (main thread only).
  struct Report {
    int64_t step = 0;
    std::vector<int> contributed, dropped;  // world ranks, ascending
    int64_t sequences = 0;
    std::vector<std::pair<int, std::string>> left;  // rank, why
    int alive = 0;
  };
  const Report& report() const { return report_; }

  // A rank w > 0 whose run failed: tells rank 0 it leaves (best effort), then stops.
  void leave(const std::string& why);
  // Judges peers by their heartbeat files in RUN_DIR/heartbeat (see above); call before
  // the first step.
  void watch_heartbeats(const std::string& run_dir) { watch_.beat_dir = run_dir; }
  static constexpr double kGoneSeconds = PeerWatch::kGoneSeconds;
  // The end of the run: ranks w > 0 send their parameters' hash; rank 0 waits for every
  // live rank's and throws RuntimeError naming a rank whose hash differs from `mine`.
  void end(uint64_t mine);

 private:
  struct Result;
  void serve(int w);  // rank 0: the handler of rank w's link
  double close_step(double loss_sum);  // rank 0
  double fetch_step(double loss_sum);  // rank w > 0
  void log_report();                   // rank 0: report_ into out_
  void log_left();                     // rank 0: report_.left into out_
  // PeerWatch's transfers on a link (rank 0 stops waiting when it is stopping)
  bool send(comm::Group& link, int peer, std::uint64_t tag, comm::ConstBytes data,
            const std::string& what, std::string* why) {
    return watch_.send(link, peer, tag, data, what, why);
  }
  bool receive(comm::Group& link, int peer, std::uint64_t tag, comm::Bytes dst,
               const std::string& what, std::string* why) {
    return watch_.receive(link, peer, tag, dst, what, why);
  }

  comm::Group world_;
  std::vector<comm::Group> links_;  // rank 0: per rank w (index w; [0] unused); else [0]
  int backup_;
  int n_;
  int rank_;
  const int64_t& step_;
  const int64_t& seqs_;
  size_t floats_;
  std::vector<float>* grads_ = nullptr;
  int64_t last_seqs_ = 0;   // the sequences the last step's update is over
  int64_t known_closed_;    // rank w > 0: steps rank 0 had closed at the last reply
  bool computed_ = true;    // rank w > 0: this step's gradients were computed
  bool rank0_gone_ = false; // rank w > 0: a wait found rank 0's process gone
  int slow_ = -1;           // PLAIT_TEST_SLOW_RANK
  Report report_;
  RunOutput* out_ = nullptr;
  bool progress_ = false;         // --progress: else a leaving rank is said on stderr
  std::vector<int> last_logged_;  // the contributors the log last named
  PeerWatch watch_;               // its beat_dir: watch_heartbeats

  // rank 0, under m_
  std::mutex m_;
  std::condition_variable cv_;
  int64_t closed_;                       // steps closed; the open step is closed_
  std::vector<int> arrived_;             // ranks whose gradients of the open step arrived
  bool deciding_ = false;                // the open step's contributors are being summed
  std::vector<std::vector<float>> bufs_; // per rank: its last gradient sum
  std::vector<double> loss_;             // per rank: its last loss sum
  std::vector<int64_t> seqs_of_;         // per rank: its last share
  std::vector<bool> alive_;
  std::vector<int64_t> delivered_;       // per rank: steps whose results it has fetched
  std::deque<std::shared_ptr<const Result>> history_;  // closed results not yet fetched by all
  std::vector<std::pair<int, std::string>> left_;  // not yet reported
  std::vector<uint64_t> hashes_;
  std::vector<bool> ended_;
  bool stop_ = false;
  std::vector<std::thread> handlers_;
};

}  // namespace plait
