#include "fault/heartbeat.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace plait::fault {
namespace fs = std::filesystem;

struct Heartbeats::Slot {
  mutable std::mutex m;
  bool entered = false, finished = false;
  std::int64_t step = -1;
  const char* phase = "start";
  Clock::time_point changed;
  double slowest = 0;
  std::int64_t timed_step = -1;
  double step_s = 0, compute_s = 0, wait_s = 0;
  std::function<std::string()> activity;
};

namespace {

struct Current {
  Heartbeats* hb = nullptr;
  int rank = -1;
};
thread_local Current current;

double seconds(Heartbeats::Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Heartbeats::Heartbeats(int ranks) {
  for (int r = 0; r < ranks; ++r) slots_.push_back(std::make_unique<Slot>());
}

Heartbeats::~Heartbeats() = default;

Heartbeats::Scope::Scope(Heartbeats& hb, int rank, std::function<std::string()> activity)
    : hb_(hb), rank_(rank) {
  Slot& s = *hb.slots_.at(rank);
  {
    std::lock_guard lock(s.m);
    s.entered = true;
    s.changed = Clock::now();
    s.activity = std::move(activity);
  }
  current = {&hb, rank};
}

Heartbeats::Scope::~Scope() {
  Slot& s = *hb_.slots_[rank_];
  {
    std::lock_guard lock(s.m);
    s.finished = true;
    s.phase = "done";
  }
  current = {};
}

int Heartbeats::current_rank() { return current.rank; }

void Heartbeats::beat(const char* phase, std::int64_t step) {
  if (!current.hb) return;
  Slot& s = *current.hb->slots_[current.rank];
  const auto now = Clock::now();
  std::lock_guard lock(s.m);
  // Start-up (loading, the first collectives) is not a phase the auto limit learns from.
  if (s.step >= 0) s.slowest = std::max(s.slowest, seconds(now - s.changed));
  s.step = step;
  s.phase = phase;
  s.changed = now;
}

void Heartbeats::progress() {
  if (!current.hb) return;
  Slot& s = *current.hb->slots_[current.rank];
  std::lock_guard lock(s.m);
  s.changed = Clock::now();
}

void Heartbeats::timing(std::int64_t step, double step_s, double compute_s, double wait_s) {
  if (!current.hb) return;
  Slot& s = *current.hb->slots_[current.rank];
  std::lock_guard lock(s.m);
  s.timed_step = step;
  s.step_s = step_s;
  s.compute_s = compute_s;
  s.wait_s = wait_s;
}

std::vector<Beat> Heartbeats::snapshot() const {
  static const std::string host = host_name();
  std::vector<Beat> out;
  const auto now = Clock::now();
  for (std::size_t r = 0; r < slots_.size(); ++r) {
    const Slot& s = *slots_[r];
    std::function<std::string()> activity;
    Beat b;
    {
      std::lock_guard lock(s.m);
      if (!s.entered) continue;
      b.rank = static_cast<int>(r);
      b.step = s.step;
      b.phase = s.phase;
      b.progress_age = seconds(now - s.changed);
      b.slowest = s.slowest;
      b.finished = s.finished;
      b.timed_step = s.timed_step;
      b.step_s = s.step_s;
      b.compute_s = s.compute_s;
      b.wait_s = s.wait_s;
      activity = s.activity;
    }
    b.host = host;
    b.pid = static_cast<long>(getpid());
    if (activity && !b.finished) b.activity = activity();
    out.push_back(std::move(b));
  }
  return out;
}

void write_beat_file(const std::string& dir, const Beat& b) {
  const fs::path d = fs::path(dir) / "heartbeat";
  std::error_code ec;
  fs::create_directories(d, ec);
  const nlohmann::json j = {{"rank", b.rank},         {"host", b.host},
                            {"pid", b.pid},           {"step", b.step},
                            {"phase", b.phase},       {"activity", b.activity},
                            {"progress_age", b.progress_age}, {"slowest", b.slowest},
                            {"finished", b.finished}, {"time", unix_now()},
                            {"timed_step", b.timed_step}, {"step_s", b.step_s},
                            {"compute_s", b.compute_s}, {"wait_s", b.wait_s}};
  const std::string name = "rank-" + std::to_string(b.rank) + ".json";
  const fs::path tmp = d / (".tmp-" + name);
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << j.dump() << '\n';
    if (!f) return;  // a full disk must not end the run; the beat just ages
  }
  fs::rename(tmp, d / name, ec);
}

namespace {
std::mutex g_dropped_m;
std::vector<int> g_dropped;
}  // namespace

void mark_rank_dropped(int rank) {
  std::lock_guard lock(g_dropped_m);
  g_dropped.push_back(rank);
}

bool rank_dropped(int rank) {
  std::lock_guard lock(g_dropped_m);
  return std::find(g_dropped.begin(), g_dropped.end(), rank) != g_dropped.end();
}

std::vector<Beat> read_beat_files(const std::string& dir) {
  std::vector<Beat> out;
  std::error_code ec;
  const double now = unix_now();
  for (const auto& e : fs::directory_iterator(fs::path(dir) / "heartbeat", ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("rank-", 0) != 0) continue;
    std::ifstream f(e.path());
    const nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;  // caught mid-write: next poll
    Beat b;
    b.rank = j.value("rank", 0);
    b.host = j.value("host", "");
    b.pid = j.value("pid", 0L);
    b.step = j.value("step", std::int64_t{-1});
    b.phase = j.value("phase", "");
    b.activity = j.value("activity", "");
    b.slowest = j.value("slowest", 0.0);
    b.finished = j.value("finished", false);
    b.timed_step = j.value("timed_step", std::int64_t{-1});
    b.step_s = j.value("step_s", 0.0);
    b.compute_s = j.value("compute_s", 0.0);
    b.wait_s = j.value("wait_s", 0.0);
    b.beat_age = std::max(0.0, now - j.value("time", now));
    b.progress_age = j.value("progress_age", 0.0) + b.beat_age;
    out.push_back(std::move(b));
  }
  std::sort(out.begin(), out.end(), [](const Beat& a, const Beat& b) { return a.rank < b.rank; });
  return out;
}

namespace {

bool waiting(const Beat& b) { return b.activity.rfind("waiting", 0) == 0; }

// Frozen is judged against the publish period, not the stall limit: a rank that stops
// just after publishing looks younger than the peer that has been waiting for it.
bool frozen(const Beat& b, double limit_s) {
  return b.beat_age > std::min(limit_s, kFrozenBeatSeconds);
}

std::string fixed(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", x);
  return buf;
}

}  // namespace

std::string stall_report(const std::vector<Beat>& beats, double limit_s) {
  std::vector<const Beat*> active;
  double slowest = 0;
  bool all_measured = true;
  for (const Beat& b : beats) {
    if (b.finished || b.step < 0) continue;  // start-up: --timeout's, not ours
    active.push_back(&b);
    slowest = std::max(slowest, b.slowest);
    all_measured = all_measured && b.slowest > 0;
  }
  if (active.empty()) return "";
  if (limit_s <= 0) {
    if (!all_measured) return "";
    limit_s = kAutoBaseSeconds + kAutoFactor * slowest;
  }
  // someone alive is working: the ranks that wait for it are not stalled
  const bool working = std::any_of(active.begin(), active.end(), [&](const Beat* b) {
    return b->progress_age <= limit_s && !waiting(*b) && !frozen(*b, limit_s);
  });
  const bool stall = std::any_of(active.begin(), active.end(), [&](const Beat* b) {
    return b->progress_age > limit_s && !(working && waiting(*b));
  });
  if (!stall) return "";
  // The rank the others wait for: frozen first, then not waiting, then behind.
  const auto key = [&](const Beat* b) {
    return std::make_tuple(frozen(*b, limit_s) ? 0 : 1, waiting(*b) ? 1 : 0, b->step, b->rank);
  };
  const Beat& c = **std::min_element(active.begin(), active.end(),
                                     [&](const Beat* a, const Beat* b) { return key(a) < key(b); });
  std::ostringstream s;
  s << "heartbeat: rank " << c.rank << " on host " << c.host << " (pid " << c.pid
    << ") made no progress for " << fixed(c.progress_age) << " s (limit " << fixed(limit_s)
    << " s) in ";
  if (c.phase == "step") s << "step " << c.step << ": ";
  else s << "the " << c.phase << " after step " << c.step << ": ";
  if (frozen(c, limit_s))
    s << "its heartbeat stopped " << fixed(c.beat_age) << " s ago (process stopped or gone)";
  else
    s << (c.activity.empty() ? "no activity known" : c.activity);
  std::string others;
  for (const Beat* b : active)
    if (b != &c && waiting(*b))
      others += (others.empty() ? "" : "; ") + std::string("rank ") + std::to_string(b->rank) +
                " " + b->activity;
  if (!others.empty()) s << "; " << others;
  return s.str();
}

Watchdog::Watchdog(std::function<std::vector<Beat>()> source, double limit_s,
                   std::function<void(const std::string&)> on_stall, std::function<void()> publish)
    : source_(std::move(source)),
      limit_s_(limit_s),
      on_stall_(std::move(on_stall)),
      publish_(std::move(publish)),
      thread_([this] { run(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(m_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Watchdog::run() {
  std::unique_lock lock(m_);
  const auto poll = std::chrono::duration<double>(kPublishSeconds);
  while (!cv_.wait_for(lock, poll, [this] { return stop_; })) {
    lock.unlock();
    if (publish_) publish_();
    std::string report;
    if (source_) report = stall_report(source_(), limit_s_);
    lock.lock();
    if (!report.empty() && !stop_) {
      on_stall_(report);
      return;
    }
  }
}

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "?";
  return buf;
}

}  // namespace plait::fault
