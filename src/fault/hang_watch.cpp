#include "fault/hang_watch.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "fault/heartbeat.h"

namespace plait::fault {
namespace {

std::string fixed(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", x);
  return buf;
}

// "rank 1 in step 5 (waiting in allreduce(ring) #5 of group 'dp-grads' for rank 0)"
std::string where(const Beat& b) {
  std::string s = "rank " + std::to_string(b.rank) + " ";
  if (b.step < 0) s += "before its first step";
  else s += b.phase == "step" ? "in step " + std::to_string(b.step)
                              : "in the " + b.phase + " after step " + std::to_string(b.step);
  if (!b.activity.empty()) s += " (" + b.activity + ")";
  return s;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The child's ranks still at work: files written since it started, not finished.
std::vector<Beat> child_beats(const std::string& run_dir, double started_unix,
                              bool finished_too = false) {
  const double now = unix_now();
  std::vector<Beat> mine;
  for (Beat& b : read_beat_files(run_dir))
    if ((finished_too || !b.finished) && now - b.beat_age >= started_unix)
      mine.push_back(std::move(b));
  return mine;
}

}  // namespace

std::vector<long> child_rank_pids(const std::string& run_dir, double started_unix, bool all) {
  const std::string here = host_name();
  std::vector<long> pids;
  for (const Beat& b : child_beats(run_dir, started_unix, all))
    if (b.host == here && b.pid > 0) pids.push_back(b.pid);
  return pids;
}

std::string hung_child_report(const std::string& run_dir, double started_unix, double limit_s) {
  const std::vector<Beat> mine = child_beats(run_dir, started_unix);
  if (mine.empty()) return "";
  double slowest = 0, youngest = mine.front().beat_age;
  for (const Beat& b : mine) {
    slowest = std::max(slowest, b.slowest);
    youngest = std::min(youngest, b.beat_age);
  }
  const double limit = limit_s > 0 ? limit_s : kAutoBaseSeconds + kAutoFactor * slowest;
  if (youngest <= limit) return "";
  std::string ranks;
  for (const Beat& b : mine) ranks += (ranks.empty() ? "" : "; ") + where(b);
  return "hung: none of its " + std::to_string(mine.size()) + " ranks' heartbeats changed for " +
         fixed(youngest) + " s (limit " + fixed(limit) + " s; every rank is stopped or stuck, "
         "the run's own watchdog too); their last heartbeats: " + ranks;
}

}  // namespace plait::fault
