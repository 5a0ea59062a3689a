#include "parallel/backup_sync.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <thread>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "fault/heartbeat.h"
#include "util/error.h"

namespace plait {
namespace {

namespace fs = std::filesystem;

// Messages on rank w's link ("backup-link-<w>", a dup of the world; peers are world
// ranks). The exchange alternates strictly (up, down, up, ...) and messages between
// one pair with one tag never overtake, so the tag is the kind.
enum Tag : std::uint64_t { kUp = 1, kUpGrad, kDown, kDownGrad };

enum Kind : std::int32_t { kGrads = 0, kSkip = 1, kEnd = 2, kLeave = 3 };

struct UpHead {
  std::int64_t step = 0;  // the step the message belongs to
  std::int32_t kind = kGrads;
  std::int32_t pad = 0;
  double loss_sum = 0;     // kGrads: the losses' sum over the sender's share
  std::int64_t seqs = 0;   // kGrads: the share's sequences
  std::uint64_t hash = 0;  // kEnd: XXH64 of the sender's parameters
  char why[240] = {};      // kLeave: the failure, truncated
};

struct DownHead {
  std::int64_t step = 0;    // the step the gradient below belongs to
  std::int64_t closed = 0;  // steps rank 0 had closed when it replied
  double loss_sum = 0;      // of the contributors to `step`
  std::int64_t seqs = 0;    // the contributors' sequences (the update's divisor)
};

template <class T>
comm::ConstBytes cbytes(const T& x) {
  return std::as_bytes(std::span<const T>(&x, 1));
}
template <class T>
comm::Bytes wbytes(T& x) {
  return std::as_writable_bytes(std::span<T>(&x, 1));
}

int slow_rank_for_test() {
  const char* env = std::getenv("PLAIT_TEST_SLOW_RANK");
  return env ? std::atoi(env) : -1;
}

std::string rank_list(const std::vector<int>& ranks) {
  std::string s;
  for (int r : ranks) {
    if (!s.empty()) s += ',';
    s += std::to_string(r);
  }
  return s;
}

}  // namespace

bool mpirun_keeps_survivors() {
  const char* recovery = std::getenv("OMPI_MCA_orte_enable_recovery");
  const char* abort = std::getenv("OMPI_MCA_orte_abort_on_non_zero_status");
  return recovery && std::string(recovery) == "1" && abort && std::string(abort) == "0";
}

// A closed step: what every rank applies.
struct BackupSync::Result {
  DownHead head;
  std::vector<float> grads;  // the contributors' gradient SUM
};

BackupSync::BackupSync(comm::Group& world, int backup, const int64_t& step, const int64_t& seqs,
                       size_t floats, int64_t start, RunOutput* out, bool progress)
    : world_(world),
      backup_(backup),
      n_(world.size()),
      rank_(world.rank()),
      step_(step),
      seqs_(seqs),
      floats_(floats),
      known_closed_(start),
      out_(out),
      progress_(progress),
      closed_(start) {
  links_.resize(n_);
  for (int w = 1; w < n_; ++w) links_[w] = world.dup("backup-link-" + std::to_string(w));
  watch_.who = "backup workers: rank " + std::to_string(rank_);
  watch_.self = world.world_rank();
  if (rank_ != 0) return;
  watch_.stopping = [this] {  // rank 0 itself is failing
    std::lock_guard lock(m_);
    return stop_;
  };
  slow_ = slow_rank_for_test();
  bufs_.resize(n_);
  loss_.assign(n_, 0);
  seqs_of_.assign(n_, 0);
  alive_.assign(n_, true);
  delivered_.assign(n_, start);
  hashes_.assign(n_, 0);
  ended_.assign(n_, false);
  for (int w = 1; w < n_; ++w) {
    bufs_[w].resize(floats_);
    handlers_.emplace_back([this, w] { serve(w); });
  }
}

BackupSync::~BackupSync() {
  {
    std::lock_guard lock(m_);
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : handlers_) t.join();
}

void BackupSync::begin_step(std::vector<float>& grads) { grads_ = &grads; }

// A rank behind rank 0 (its last reply said step_ is closed already) would only compute
// a gradient that is dropped: it skips the computation and fetches the result.
bool BackupSync::wants_gradients() const { return rank_ == 0 || known_closed_ <= step_; }

double BackupSync::finish(double loss_sum) {
  return rank_ == 0 ? close_step(loss_sum) : fetch_step(loss_sum);
}

void BackupSync::finish_gradients() {
  throw RuntimeError("backup workers: this gradient sync sums the loss itself (GradSync::finish)");
}

double BackupSync::fetch_step(double loss_sum) {
  comm::Group& link = links_[rank_];
  UpHead up;
  up.step = step_;
  up.kind = wants_gradients() ? kGrads : kSkip;
  up.loss_sum = loss_sum;
  up.seqs = seqs_;
  std::vector<float>& g = *grads_;
  DownHead down;
  std::string why;
  const std::string step = "step " + std::to_string(step_ + 1);
  const bool reply =
      send(link, 0, kUp, cbytes(up), "sending its header of " + step, &why) &&
      (up.kind != kGrads || send(link, 0, kUpGrad, std::as_bytes(std::span<const float>(g)),
                                 "sending its gradients of " + step, &why)) &&
      receive(link, 0, kDown, wbytes(down), "receiving rank 0's reply to " + step, &why);
  if (!reply) {
    rank0_gone_ = true;
    throw RuntimeError("backup workers: rank " + std::to_string(rank_) + " waited for rank 0 in "
                       + step + ", and rank 0 is gone: " + why + "; ending (a job without "
                       "rank 0 cannot go on: plait launch restarts it from the last checkpoint)");
  }
  if (down.step != step_)
    throw RuntimeError("backup workers: rank " + std::to_string(rank_) + " asked for step " +
                       std::to_string(step_) + " and rank 0 replied with step " +
                       std::to_string(down.step));
  if (!receive(link, 0, kDownGrad, std::as_writable_bytes(std::span<float>(g)),
               "receiving rank 0's gradient of " + step, &why)) {
    rank0_gone_ = true;
    throw RuntimeError("backup workers: rank " + std::to_string(rank_) + " waited for rank 0's "
                       "gradient of " + step + ", and rank 0 is gone: " + why + "; ending");
  }
  known_closed_ = down.closed;
  last_seqs_ = down.seqs;
  return down.loss_sum;
}

// Rank 0: waits for need - 1 other ranks' gradients of the open step, sums them with
// its own in rank order into *grads_, and closes the step.
double BackupSync::close_step(double loss_sum) {
  std::vector<float>& g = *grads_;
  const int64_t t = step_;
  std::vector<int> chosen;
  {
    std::unique_lock lock(m_);
    const double limit = world_.timeout();
    auto enough = [&] {
      const int alive = static_cast<int>(std::count(alive_.begin(), alive_.end(), true));
      const int need = std::min(n_ - backup_, alive);
      return static_cast<int>(arrived_.size()) >= need - 1;
    };
    // The handlers' receives time out after `limit` and drop their rank, which wakes
    // this wait; the extra bound only guards against a bug.
    if (!cv_.wait_for(lock, std::chrono::duration<double>(limit > 0 ? 2 * limit + 10 : 1e9), enough))
      throw TimeoutError("backup workers: rank 0 timed out waiting for the gradients of step " +
                         std::to_string(t + 1) + " (arrived: " + rank_list(arrived_) + ")");
    const int alive = static_cast<int>(std::count(alive_.begin(), alive_.end(), true));
    const int need = std::min(n_ - backup_, alive);
    chosen.assign(arrived_.begin(), arrived_.begin() + (need - 1));
    deciding_ = true;  // later arrivals of step t are late from here on
  }
  // The chosen ranks' buffers are stable: their handlers wait for the close.
  std::sort(chosen.begin(), chosen.end());
  int64_t seqs = seqs_;
  for (int w : chosen) {
    const float* b = bufs_[w].data();
    for (size_t i = 0; i < floats_; ++i) g[i] += b[i];
    loss_sum += loss_[w];
    seqs += seqs_of_[w];
  }
  auto res = std::make_shared<Result>();
  res->head = {t, t + 1, loss_sum, seqs};
  res->grads = g;
  last_seqs_ = seqs;
  report_ = {};
  report_.step = t;
  report_.contributed = chosen;
  report_.contributed.insert(report_.contributed.begin(), 0);
  report_.sequences = seqs;
  {
    std::lock_guard lock(m_);
    for (int w = 1; w < n_; ++w)
      if (!std::binary_search(chosen.begin(), chosen.end(), w) && alive_[w])
        report_.dropped.push_back(w);
    report_.left.swap(left_);
    report_.alive = static_cast<int>(std::count(alive_.begin(), alive_.end(), true));
    history_.push_back(std::move(res));
    closed_ = t + 1;
    arrived_.clear();
    deciding_ = false;
  }
  cv_.notify_all();
  log_report();
  return loss_sum;
}

// The ranks that left since the last report: a line (stderr too) and an event each.
void BackupSync::log_left() {
  const Report& r = report_;
  for (const auto& [w, why] : r.left) {
    const std::string line = "backup workers: rank " + std::to_string(w) + " left at step " +
                             std::to_string(r.step + 1) + " (" + why + "); continuing with " +
                             std::to_string(r.alive) + " of " + std::to_string(n_) + " workers";
    out_->message(line);
    if (!progress_) std::fprintf(stderr, "%s\n", line.c_str());  // said even without progress
    out_->event({{"event", "worker_dropped"}, {"rank", w}, {"step", r.step + 1}, {"why", why},
                 {"alive", r.alive}});
  }
}

// A line when a rank leaves and whenever the contributors change; an event every step.
void BackupSync::log_report() {
  if (!out_) return;
  log_left();
  const Report& r = report_;
  if (r.contributed != last_logged_) {
    last_logged_ = r.contributed;
    std::string line = "backup workers: step " + std::to_string(r.step + 1) + ": rank" +
                       (r.contributed.size() > 1 ? "s " : " ") + rank_list(r.contributed) +
                       " contributed (" + std::to_string(r.sequences) + " sequences)";
    if (!r.dropped.empty())
      line += ", rank" + std::string(r.dropped.size() > 1 ? "s " : " ") + rank_list(r.dropped) +
              " dropped";
    out_->message(line);
  }
  out_->event({{"event", "backup_step"}, {"step", r.step + 1}, {"contributed", r.contributed},
               {"dropped", r.dropped}, {"sequences", r.sequences}});
}

// Rank 0's handler of rank w's link: one message of w per step, one reply; ends at w's
// end or leave message, or when w sends nothing within the timeout (w is dropped).
void BackupSync::serve(int w) {
  comm::Group& link = links_[w];
  auto drop = [&](const std::string& why) {
    int64_t steps = 0;
    {
      std::lock_guard lock(m_);
      steps = closed_;
    }
    watch_.mark_dropped(w, steps, why);
    std::lock_guard lock(m_);
    alive_[w] = false;
    left_.emplace_back(w, why);
    cv_.notify_all();
  };
  for (;;) {
    UpHead up;
    try {
      std::string why;
      if (!receive(link, w, kUp, wbytes(up), "receiving its next message", &why) ||
          (up.kind == kGrads &&
           !receive(link, w, kUpGrad, std::as_writable_bytes(std::span<float>(bufs_[w])),
                    "receiving its gradients of step " + std::to_string(up.step + 1), &why))) {
        if (!why.empty()) drop(why);
        return;
      }
    } catch (const std::exception& e) {
      std::lock_guard lock(m_);
      if (stop_) return;  // rank 0 itself is failing
      alive_[w] = false;
      left_.emplace_back(w, std::string("no message from it: ") + e.what());
      cv_.notify_all();
      return;
    }
    if (up.kind == kLeave) {
      up.why[sizeof up.why - 1] = '\0';
      drop(up.why);
      return;
    }
    std::shared_ptr<const Result> res;
    {
      std::unique_lock lock(m_);
      if (up.kind == kEnd) {
        hashes_[w] = up.hash;
        ended_[w] = true;
        alive_[w] = false;  // needed for no step any more
        cv_.notify_all();
        return;
      }
      // test hook: held until the step has closed without it (while every rank is
      // alive: after a rank left, the step may need this one)
      if (w == slow_)
        cv_.wait(lock, [&] {
          return stop_ || closed_ > up.step || std::count(alive_.begin(), alive_.end(), true) < n_;
        });
      if (up.kind == kGrads && up.step == closed_ && !deciding_) {
        loss_[w] = up.loss_sum;
        seqs_of_[w] = up.seqs;
        arrived_.push_back(w);
        cv_.notify_all();
      }
      cv_.wait(lock, [&] { return stop_ || closed_ > up.step; });
      if (stop_) return;
      for (const auto& r : history_)
        if (r->head.step == up.step) res = r;
      if (!res) {  // cannot happen: results stay until every live rank has fetched them
        alive_[w] = false;
        left_.emplace_back(w, "step " + std::to_string(up.step + 1) + "'s result is gone");
        cv_.notify_all();
        return;
      }
    }
    DownHead down = res->head;
    down.closed = 0;
    {
      std::lock_guard lock(m_);
      down.closed = closed_;
    }
    try {
      std::string why;
      const std::string step = "step " + std::to_string(up.step + 1);
      if (!send(link, w, kDown, cbytes(down), "sending its reply to " + step, &why) ||
          !send(link, w, kDownGrad, std::as_bytes(std::span<const float>(res->grads)),
                "sending the gradient of " + step, &why)) {
        if (!why.empty()) drop(why);
        return;
      }
    } catch (const std::exception& e) {
      drop(std::string("its reply failed: ") + e.what());
      return;
    }
    std::lock_guard lock(m_);
    delivered_[w] = up.step + 1;
    // results every live rank has fetched are not needed any more (rank 0's own too)
    int64_t lowest = closed_;
    for (int v = 1; v < n_; ++v)
      if (alive_[v]) lowest = std::min(lowest, delivered_[v]);
    while (!history_.empty() && history_.front()->head.step < lowest) history_.pop_front();
  }
}

bool PeerWatch::send(comm::Group& link, int peer, std::uint64_t tag, comm::ConstBytes data,
                     const std::string& what, std::string* why) const {
  if (beat_dir.empty()) {  // the transport's own timeout bounds it
    link.send(peer, tag, data);
    return true;
  }
  comm::Request q = link.isend(peer, tag, data);
  return await(link, peer, q, what, why);
}

bool PeerWatch::receive(comm::Group& link, int peer, std::uint64_t tag, comm::Bytes dst,
                        const std::string& what, std::string* why) const {
  if (beat_dir.empty()) {
    link.recv(peer, tag, dst);
    return true;
  }
  comm::Request q = link.irecv(peer, tag, dst);
  return await(link, peer, q, what, why);
}

bool PeerWatch::await(comm::Group& link, int peer, comm::Request& q, const std::string& what,
                      std::string* why) const {
  const auto start = std::chrono::steady_clock::now();
  auto next_look = start + std::chrono::duration<double>(kGoneSeconds);
  const double limit = link.timeout() > 0 ? link.timeout() : 1e12;
  bool waited = false;
  while (!link.arrived(q)) {
    if (!waited) check_dropped();  // once per wait that waits: a dropped rank learns it at once
    waited = true;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    const auto now = std::chrono::steady_clock::now();
    if (stopping && stopping()) return false;  // the waiter itself is failing (why stays empty)
    if (now >= next_look) {
      // only after kGoneSeconds of waiting: by then a live peer has rewritten its file.
      // Before the --timeout check: a process resumed after a long stop was dropped.
      next_look = now + std::chrono::duration<double>(fault::kPublishSeconds);
      check_dropped();
      *why = gone(link.world_rank(peer));
      for (std::size_t i = 0; i < also.size() && why->empty(); ++i) *why = gone(also[i]);
      if (!why->empty()) {
        if (!link.arrived(q)) return false;  // q is cancelled as it goes
        why->clear();  // the peer ended after its message, which is here now
        continue;
      }
    }
    if (now - start > std::chrono::duration<double>(limit))
      throw TimeoutError(who + " waited " + std::to_string(static_cast<int>(limit)) +
                         " s for rank " + std::to_string(link.world_rank(peer)) + ", " + what +
                         " (--timeout)");
  }
  link.wait(q);
  return true;
}

std::string PeerWatch::gone(int world_rank) const {
  for (const fault::Beat& b : fault::read_beat_files(beat_dir)) {
    if (b.rank != world_rank) continue;
    char text[160];
    if (b.finished)
      std::snprintf(text, sizeof text, "its process ended (heartbeat phase '%s')", b.phase.c_str());
    else if (b.beat_age > kGoneSeconds)
      std::snprintf(text, sizeof text, "its heartbeat stopped %.1f s ago (process gone or stopped)",
                    b.beat_age);
    else
      return "";
    return text;
  }
  return "";  // no file yet: not judged
}

namespace {
fs::path dropped_marker(const std::string& beat_dir, int rank) {
  return fs::path(beat_dir) / "heartbeat" / ("dropped-rank-" + std::to_string(rank) + ".json");
}
}  // namespace

void PeerWatch::mark_dropped(int w, std::int64_t steps, const std::string& why) const {
  if (beat_dir.empty()) return;  // threads: the rank's own slot says it ended
  fault::mark_rank_dropped(w);
  long pid = 0;
  for (fault::Beat b : fault::read_beat_files(beat_dir)) {
    if (b.rank != w) continue;
    pid = b.pid;
    b.finished = true;
    b.phase = "dropped";
    b.activity = why;
    fault::write_beat_file(beat_dir, b);
  }
  // the marker for the rank itself (its own heartbeat thread would overwrite the above)
  const fs::path marker = dropped_marker(beat_dir, w);
  const fs::path tmp = marker.parent_path() / (".tmp-" + marker.filename().string());
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << nlohmann::json{{"pid", pid}, {"steps", steps}, {"by", self}, {"why", why}}.dump() << '\n';
    if (!f) return;  // best effort: without it the rank waits until --timeout
  }
  std::error_code ec;
  fs::rename(tmp, marker, ec);
}

void PeerWatch::check_dropped() const {
  if (beat_dir.empty() || self < 0) return;
  const fs::path marker = dropped_marker(beat_dir, self);
  std::error_code ec;
  if (!fs::exists(marker, ec)) return;
  std::ifstream f(marker);
  const nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  // a previous attempt's marker (restarts share the directory) names another process
  if (!j.is_object() || j.value("pid", 0L) != static_cast<long>(::getpid())) return;
  throw Dropped(who, j.value("by", -1), j.value("steps", std::int64_t{0}), j.value("why", ""));
}

Dropped::Dropped(std::string who_, int by_, std::int64_t closed_, std::string why_)
    : RuntimeError(who_ + " was dropped by rank " + std::to_string(by_) + ": " + why_),
      who(std::move(who_)),
      by(by_),
      closed(closed_),
      why(std::move(why_)) {}

void say_dropped(const Dropped& e, std::int64_t step) {
  std::fprintf(stderr, "plait: %s was dropped at step %lld by rank %d (%lld steps closed there): "
               "%s; ending, the run goes on without it\n", e.who.c_str(),
               static_cast<long long>(step + 1), e.by, static_cast<long long>(e.closed),
               e.why.c_str());
  fault::Heartbeats::beat("dropped", step);
}

void BackupSync::leave(const std::string& why) {
  if (rank_ == 0 || rank0_gone_) return;
  UpHead up;
  up.step = step_;
  up.kind = kLeave;
  std::strncpy(up.why, why.c_str(), sizeof up.why - 1);
  try {
    std::string gone_why;
    send(links_[rank_], 0, kUp, cbytes(up), "sending its leave message", &gone_why);
  } catch (const std::exception&) {  // rank 0 is gone too, or dropped us already
  }
}

void BackupSync::end(uint64_t mine) {
  if (rank_ != 0) {
    UpHead up;
    up.step = step_;
    up.kind = kEnd;
    up.hash = mine;
    std::string why;
    if (!send(links_[rank_], 0, kUp, cbytes(up), "sending its end of the run", &why)) {
      rank0_gone_ = true;
      throw RuntimeError("backup workers: rank " + std::to_string(rank_) + " finished the run, "
                         "and rank 0 is gone before taking its end message: " + why);
    }
    return;
  }
  for (std::thread& t : handlers_) t.join();  // each ends at its rank's end or leave
  handlers_.clear();
  if (out_ && !left_.empty()) {  // ranks that left during the last step
    report_.left.swap(left_);
    report_.alive = static_cast<int>(std::count(ended_.begin(), ended_.end(), true)) + 1;
    log_left();
  }
  for (int w = 1; w < n_; ++w)
    if (ended_[w] && hashes_[w] != mine)
      throw RuntimeError("data parallel (backup workers): the replica of rank " +
                         std::to_string(w) + " differs from rank 0's after training");
}

}  // namespace plait
