#include "fault/monitor.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "fault/checkpoint_names.h"
#include "fault/supervisor.h"

namespace plait::fault {
namespace fs = std::filesystem;

void Monitor::step(std::int64_t step, double loss) {
  const auto now = Clock::now();
  std::lock_guard lock(m_);
  s_.step = step;
  s_.loss = loss;
  // A rollback or a resume goes back: the window starts again.
  if (!recent_.empty() && step <= recent_.back().second) recent_.clear();
  recent_.emplace_back(now, step);
  if (recent_.size() > kWindow + 1) recent_.pop_front();
  const double secs = std::chrono::duration<double>(now - recent_.front().first).count();
  const auto steps = recent_.back().second - recent_.front().second;
  if (steps > 0 && secs > 0) s_.tokens_per_s = static_cast<double>(steps * tokens_per_step_) / secs;
}

RunScalars Monitor::scalars() const {
  std::lock_guard lock(m_);
  return s_;
}

void write_scalars_file(const std::string& run_dir, const RunScalars& s) {
  const fs::path d = fs::path(run_dir) / "heartbeat";
  nlohmann::json j = {{"step", s.step}, {"tokens_per_s", s.tokens_per_s}};
  j["loss"] = std::isfinite(s.loss) ? nlohmann::json(s.loss) : nlohmann::json(std::to_string(s.loss));
  std::error_code ec;
  fs::create_directories(d, ec);
  const fs::path tmp = d / ".tmp-metrics.json";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << j.dump() << '\n';
    if (!f) return;  // a full disk must not end the run
  }
  fs::rename(tmp, d / "metrics.json", ec);
}

RunScalars read_scalars_file(const std::string& run_dir) {
  RunScalars s;
  std::ifstream f(fs::path(run_dir) / "heartbeat" / "metrics.json");
  const nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  if (!j.is_object()) return s;
  s.step = j.value("step", std::int64_t{-1});
  s.tokens_per_s = j.value("tokens_per_s", 0.0);
  if (j.contains("loss") && j["loss"].is_number()) s.loss = j["loss"].get<double>();
  else if (j.contains("loss") && j["loss"].is_string()) s.loss = std::strtod(j["loss"].get<std::string>().c_str(), nullptr);
  return s;
}

namespace {

std::string number(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "+Inf" : "-Inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", x);
  return buf;
}

// One metric family: HELP, TYPE and its samples.
class Family {
 public:
  Family(std::ostringstream& out, const char* name, const char* type, const char* help)
      : out_(out), name_(name) {
    out_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  }
  void sample(double value) { out_ << name_ << ' ' << number(value) << '\n'; }
  void rank(int r, double value) {
    out_ << name_ << "{rank=\"" << r << "\"} " << number(value) << '\n';
  }

 private:
  std::ostringstream& out_;
  const char* name_;
};

}  // namespace

std::string prometheus_text(const MonitorView& v, double limit_s) {
  std::ostringstream o;
  Family(o, "plait_step", "gauge", "Steps completed (the last step the logging rank logged; -1: none yet).")
      .sample(static_cast<double>(v.run.step));
  Family(o, "plait_loss", "gauge", "Training loss of the last logged step.").sample(v.run.loss);
  Family(o, "plait_tokens_per_second", "gauge", "Training tokens per second over the last steps.")
      .sample(v.run.tokens_per_s);
  Family(o, "plait_restarts_total", "counter", "Restarts by the supervisor (--max-restarts, plait launch).")
      .sample(v.restarts);
  if (v.workers > 0) {
    Family(o, "plait_workers", "gauge", "Workers of the current run (elastic: --min-workers).")
        .sample(v.workers);
    Family(o, "plait_elastic_resizes_total", "counter",
           "Elastic shrinks and grows by the supervisor so far.")
        .sample(v.resizes);
  }
  Family(o, "plait_checkpoint_step", "gauge", "Step of the newest committed checkpoint (-1: none).")
      .sample(static_cast<double>(v.checkpoint_step));
  Family(o, "plait_healthy", "gauge", "1 while /healthz answers 200.")
      .sample(unhealthy_reason(v, limit_s).empty() ? 1 : 0);
  struct PerRank {
    const char* name;
    const char* help;
    double (*get)(const Beat&);
  };
  static const PerRank per_rank[] = {
      {"plait_rank_step", "The step the rank is in (0-based).",
       [](const Beat& b) { return static_cast<double>(b.step); }},
      {"plait_rank_step_seconds", "Wall seconds of the rank's last completed step.",
       [](const Beat& b) { return b.step_s; }},
      {"plait_rank_compute_seconds", "Forward and backward seconds of the rank's last step.",
       [](const Beat& b) { return b.compute_s; }},
      {"plait_rank_wait_seconds", "Seconds the rank's last step waited for other ranks.",
       [](const Beat& b) { return b.wait_s; }},
      {"plait_rank_heartbeat_age_seconds", "Seconds since the rank last published its heartbeat.",
       [](const Beat& b) { return b.beat_age; }},
      {"plait_rank_progress_age_seconds", "Seconds since the rank last changed phase.",
       [](const Beat& b) { return b.progress_age; }},
  };
  for (const PerRank& p : per_rank) {
    Family f(o, p.name, "gauge", p.help);
    for (const Beat& b : v.beats) f.rank(b.rank, p.get(b));
  }
  return o.str();
}

std::string unhealthy_reason(const MonitorView& v, double limit_s) {
  if (!v.down.empty()) return v.down;
  for (const Beat& b : v.beats)
    if (!b.finished && b.beat_age > kStaleBeatSeconds) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.1f s", b.beat_age);
      return "rank " + std::to_string(b.rank) + " on host " + b.host + " (pid " +
             std::to_string(b.pid) + "): its heartbeat is " + buf +
             " old (process stopped or gone)";
    }
  return stall_report(v.beats, limit_s);
}

void add_run_dir(const std::string& run_dir, MonitorView& v) {
  if (run_dir.empty()) return;
  v.restarts = recorded_restarts(run_dir);
  std::ifstream sup(fs::path(run_dir) / "supervisor.json");
  const nlohmann::json j = nlohmann::json::parse(sup, nullptr, false);
  if (j.is_object()) {
    v.workers = j.value("workers", 0);
    for (const auto& e : j.value("events", nlohmann::json::array()))
      if (e.value("event", "") == "shrink" || e.value("event", "") == "grow") ++v.resizes;
  }
  std::ifstream f(fs::path(run_dir) / ckpt::kLatest);
  std::string name;
  std::int64_t step = -1;
  if (std::getline(f, name) && ckpt::parse_step_dir(name, step)) v.checkpoint_step = step;
}

}  // namespace plait::fault
