// plait status RUN_DIR [--json]: a run summarised from its files (docs/FAULT_TOLERANCE.md,
// "Status"): the newest committed checkpoint, the ranks' heartbeats (alive: published
// within kAliveSeconds), the last step any rank reached, the supervisor's restarts and
// the watchdog's last stall report.
#include <signal.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/registry.h"
#include "fault/checkpoint_names.h"
#include "fault/heartbeat.h"
#include "fault/monitor.h"
#include "fault/supervisor.h"
#include "util/error.h"

namespace plait::cli {
namespace {

namespace fs = std::filesystem;
constexpr double kAliveSeconds = 8 * fault::kPublishSeconds;

std::string first_line(const fs::path& p) {
  std::ifstream f(p);
  std::string s;
  std::getline(f, s);
  return s;
}

// The supervisor's elastic record (supervisor.json): the job's worker count now and
// each shrink (from, to, why) and grow (from, to, checkpoint); absent when the run never was elastic.
void add_elastic(const std::string& dir, nlohmann::json& j) {
  std::ifstream f(fs::path(dir) / "supervisor.json");
  const nlohmann::json sup = nlohmann::json::parse(f, nullptr, false);
  if (!sup.is_object() || !sup.contains("workers")) return;
  j["workers"] = sup["workers"];
  nlohmann::json shrinks = nlohmann::json::array();
  for (const auto& e : sup.value("events", nlohmann::json::array()))
    if (e.value("event", "") == "shrink")
      shrinks.push_back({{"from", e.value("from", 0)}, {"to", e.value("to", 0)},
                         {"why", e.value("why", "")}, {"time", e.value("time", 0.0)}});
  j["shrinks"] = shrinks;
  nlohmann::json grows = nlohmann::json::array();  // back to the original count
  for (const auto& e : sup.value("events", nlohmann::json::array()))
    if (e.value("event", "") == "grow")
      grows.push_back({{"from", e.value("from", 0)}, {"to", e.value("to", 0)},
                       {"checkpoint", e.value("checkpoint", "")}, {"time", e.value("time", 0.0)}});
  j["grows"] = grows;
}

// Alive: not ended, its heartbeat published lately, and (on this host) its process
// exists: a killed run's files stay fresh for a moment, an ended run's say so.
bool alive_rank(const fault::Beat& b) {
  static const std::string here = fault::host_name();
  if (b.finished || b.beat_age >= kAliveSeconds) return false;
  return b.host != here || b.pid <= 0 || ::kill(static_cast<pid_t>(b.pid), 0) == 0 || errno == EPERM;
}

nlohmann::json status_of(const std::string& dir) {
  if (!fs::is_directory(dir))
    throw UsageError("status: '" + dir + "' is not a run directory (give --checkpoint-dir's)");
  nlohmann::json j;
  j["run_dir"] = dir;
  const std::string latest = first_line(fs::path(dir) / ckpt::kLatest);
  int64_t ckpt_step = -1;
  j["last_checkpoint"] = latest.empty() ? nlohmann::json() : nlohmann::json(latest);
  if (!latest.empty() && ckpt::parse_step_dir(latest, ckpt_step)) j["checkpoint_step"] = ckpt_step;
  int64_t last = ckpt_step;
  int alive = 0, ended = 0, failed = 0;
  nlohmann::json ranks = nlohmann::json::array();
  const std::vector<fault::Beat> beats = fault::read_beat_files(dir);
  for (const fault::Beat& b : beats) {
    const bool up = alive_rank(b);
    alive += up;
    ended += b.finished;
    failed += b.phase == "failed";
    last = std::max(last, b.step);
    ranks.push_back({{"rank", b.rank}, {"host", b.host}, {"pid", b.pid}, {"step", b.step},
                     {"phase", b.phase}, {"activity", b.activity}, {"alive", up},
                     {"finished", b.finished}, {"heartbeat_age_s", b.beat_age},
                     {"progress_age_s", b.progress_age}});
  }
  const fault::RunScalars run = fault::read_scalars_file(dir);  // the logging rank's
  last = std::max(last, run.step);
  if (run.step >= 0) {
    j["loss"] = std::isfinite(run.loss) ? nlohmann::json(run.loss) : nlohmann::json();
    j["tokens_per_s"] = run.tokens_per_s;
  }
  j["last_step"] = last;
  j["alive_ranks"] = alive;
  j["state"] = beats.empty() ? "unknown" : alive > 0 ? "running" : failed > 0 ? "failed"
               : ended == static_cast<int>(beats.size()) ? "finished" : "stopped";
  j["ranks"] = ranks;
  j["restarts"] = fault::recorded_restarts(dir);
  add_elastic(dir, j);
  const std::string stalled = first_line(fs::path(dir) / "heartbeat" / "stalled.txt");
  j["last_stall"] = stalled.empty() ? nlohmann::json() : nlohmann::json(stalled);
  return j;
}

void print_text(const nlohmann::json& j) {
  std::printf("run %s\n", j["run_dir"].get<std::string>().c_str());
  std::printf("last checkpoint: %s\n",
              j["last_checkpoint"].is_null() ? "none" : j["last_checkpoint"].get<std::string>().c_str());
  std::printf("state: %s\n", j["state"].get<std::string>().c_str());
  std::printf("last step: %lld", static_cast<long long>(j["last_step"].get<int64_t>()));
  if (j.contains("loss") && !j["loss"].is_null())
    std::printf(" (loss %.4f, %.0f tokens/s)", j["loss"].get<double>(), j["tokens_per_s"].get<double>());
  std::printf("\n");
  std::printf("restarts: %d\n", j["restarts"].get<int>());
  if (j.contains("workers")) {
    std::printf("workers: %d", j["workers"].get<int>());
    for (const auto& s : j["shrinks"])
      std::printf(" (shrunk from %d: %s)", s["from"].get<int>(), s["why"].get<std::string>().c_str());
    for (const auto& g : j["grows"])
      std::printf(" (grown back from %d at %s)", g["from"].get<int>(),
                  g["checkpoint"].get<std::string>().c_str());
    std::printf("\n");
  }
  std::printf("alive ranks: %d of %zu with heartbeats\n", j["alive_ranks"].get<int>(),
              j["ranks"].size());
  for (const auto& r : j["ranks"])
    std::printf("  rank %d on %s (pid %ld): %s, step %lld, %s, heartbeat %.1f s ago%s%s\n",
                r["rank"].get<int>(), r["host"].get<std::string>().c_str(), r["pid"].get<long>(),
                r["alive"].get<bool>() ? "alive" : (r["finished"].get<bool>() ? "ended" : "silent"),
                static_cast<long long>(r["step"].get<int64_t>()),
                r["phase"].get<std::string>().c_str(), r["heartbeat_age_s"].get<double>(),
                r["activity"].get<std::string>().empty() ? "" : ", ",
                r["activity"].get<std::string>().c_str());
  if (!j["last_stall"].is_null())
    std::printf("last stall: %s\n", j["last_stall"].get<std::string>().c_str());
}

void add_status(Context& ctx) {
  struct Opts {
    std::string dir;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = ctx.root.add_subcommand("status", "summarise a run from its files: last step, "
                                                "last checkpoint, restarts, alive ranks");
  cmd->add_option("run_dir", o->dir, "the run's --checkpoint-dir")->required();
  cmd->add_flag("--json", o->json, "one JSON object");
  cmd->callback([&ctx, o] {
    const nlohmann::json j = status_of(o->dir);
    if (o->json) std::printf("%s\n", j.dump().c_str());
    else print_text(j);
    ctx.rc = 0;
  });
}

Registrar reg("status", add_status);

}  // namespace
}  // namespace plait::cli
