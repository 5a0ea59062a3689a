// What /metrics and /healthz say (fault/monitor.h) for hand-made views: the families
// and per-rank series a scraper parses, and each reason /healthz gives a 503.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fault/monitor.h"

namespace plait::fault {
namespace {

Beat beat(int rank, std::int64_t step) {
  Beat b;
  b.rank = rank;
  b.host = std::string("h");
  b.pid = 100 + rank;
  b.step = step;
  b.phase = "step";
  b.activity = "not communicating";
  b.slowest = 0.5;
  b.timed_step = step - 1;
  b.step_s = 0.25 + rank;
  b.compute_s = 0.125;
  b.wait_s = 0.0625 * rank;
  return b;
}

// The value of the sample `series` (the whole text before the space), or NaN.
double sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return std::nan("");
}

TEST(Prometheus, RunAndPerRankSeries) {
  MonitorView v;
  v.run.step = 12;
  v.run.loss = 3.5;
  v.run.tokens_per_s = 1000;
  v.restarts = 2;
  v.checkpoint_step = 10;
  v.beats = {beat(0, 12), beat(1, 12)};
  v.beats[1].beat_age = 0.75;
  const std::string t = prometheus_text(v, 60);
  EXPECT_EQ(sample(t, "plait_step"), 12);
  EXPECT_EQ(sample(t, "plait_loss"), 3.5);
  EXPECT_EQ(sample(t, "plait_tokens_per_second"), 1000);
  EXPECT_EQ(sample(t, "plait_restarts_total"), 2);
  EXPECT_EQ(sample(t, "plait_checkpoint_step"), 10);
  EXPECT_EQ(sample(t, "plait_healthy"), 1);
  EXPECT_EQ(sample(t, "plait_rank_step_seconds{rank=\"1\"}"), 1.25);
  EXPECT_EQ(sample(t, "plait_rank_compute_seconds{rank=\"0\"}"), 0.125);
  EXPECT_EQ(sample(t, "plait_rank_wait_seconds{rank=\"1\"}"), 0.0625);
  EXPECT_EQ(sample(t, "plait_rank_heartbeat_age_seconds{rank=\"1\"}"), 0.75);
  EXPECT_NE(t.find("# TYPE plait_restarts_total counter\n"), std::string::npos) << t;
  EXPECT_NE(t.find("# TYPE plait_rank_step gauge\n"), std::string::npos) << t;
}

TEST(Prometheus, NonFiniteLossIsNaN) {
  MonitorView v;
  const std::string t = prometheus_text(v, 0);
  EXPECT_NE(t.find("\nplait_loss NaN\n"), std::string::npos) << t;
  EXPECT_EQ(sample(t, "plait_step"), -1);
}

TEST(Healthz, StaleHeartbeatStallAndDown) {
  MonitorView v;
  v.beats = {beat(0, 5), beat(1, 5)};
  EXPECT_EQ(unhealthy_reason(v, 60), "");
  v.beats[1].beat_age = kStaleBeatSeconds + 1;
  std::string why = unhealthy_reason(v, 60);
  EXPECT_NE(why.find("rank 1 on host h (pid 101): its heartbeat is"), std::string::npos) << why;
  EXPECT_EQ(sample(prometheus_text(v, 60), "plait_healthy"), 0);
  v.beats[1].finished = true;  // an ended rank is not stale
  EXPECT_EQ(unhealthy_reason(v, 60), "");
  v.beats[1].finished = false;
  v.beats[1].beat_age = 0;
  v.beats[0].progress_age = 61;  // no progress past the limit: the watchdog's report
  why = unhealthy_reason(v, 60);
  EXPECT_NE(why.find("heartbeat: rank 0"), std::string::npos) << why;
  v.down = "restarting";
  EXPECT_EQ(unhealthy_reason(v, 60), "restarting");
}

TEST(Monitor, TokensPerSecondFromSteps) {
  Monitor m(100);
  EXPECT_EQ(m.scalars().step, -1);
  m.step(1, 4.0);
  EXPECT_EQ(m.scalars().tokens_per_s, 0);  // one step: no interval yet
  m.step(2, 3.0);
  const RunScalars s = m.scalars();
  EXPECT_EQ(s.step, 2);
  EXPECT_EQ(s.loss, 3.0);
  EXPECT_GT(s.tokens_per_s, 0);
}

TEST(Monitor, ScalarsFileRoundTrip) {
  const auto dir = std::filesystem::temp_directory_path() / ("plait-monitor-" + std::to_string(::getpid()));
  RunScalars s;
  s.step = 7;
  s.loss = std::nan("");
  s.tokens_per_s = 12.5;
  write_scalars_file(dir.string(), s);
  const RunScalars r = read_scalars_file(dir.string());
  EXPECT_EQ(r.step, 7);
  EXPECT_TRUE(std::isnan(r.loss));
  EXPECT_EQ(r.tokens_per_s, 12.5);
  EXPECT_EQ(read_scalars_file((dir / "none").string()).step, -1);
  std::filesystem::remove_all(dir);
}

TEST(Monitor, RunDirRestartsAndCheckpoint) {
  const auto dir = std::filesystem::temp_directory_path() / ("plait-monitor-rd-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "latest") << "step-00000042\n";
  std::ofstream(dir / "supervisor.json") << "{\"restarts\": 3}\n";
  MonitorView v;
  add_run_dir(dir.string(), v);
  EXPECT_EQ(v.checkpoint_step, 42);
  EXPECT_EQ(v.restarts, 3);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace plait::fault
