// train --metrics-port (fault/monitor.h): /metrics and /healthz read over loopback by
// httplib's client while a real run is held at a known point by a test hook
// (PLAIT_TEST_PAUSE_AFTER_CHECKPOINT), so nothing depends on timing; under
// --max-restarts the supervisor serves the same port across a restart.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cmath>
#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "metrics_helpers.h"
#include "run_plait.h"

namespace plait::test {
namespace {

namespace fs = std::filesystem;

std::string args(const TempDir& d, const std::string& run) {
  return tiny_train_args(d, run, "--batch 4 --steps 8 --checkpoint-every 2 --workers 2"
                                 " --heartbeat-timeout 600 --metrics-port 0");
}

// plait with `args` in the background; its pid.
pid_t start(const std::string& args, const std::string& env, const std::string& err,
            const std::string& pidfile) {
  return start_background(std::string(PLAIT_BINARY) + " " + args, env, err, pidfile);
}

class MetricsPort : public CorpusTest {};

TEST_F(MetricsPort, ScrapedDuringARun) {
  const pid_t pid = start(args(d, "run") + " --log " + (d / "log.jsonl"),
                          "PLAIT_TEST_PAUSE_AFTER_CHECKPOINT=4", d / "err", d / "pid");
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(wait_for_file(d.path / "run/paused")) << slurp(d / "err");
  const int port = metrics_port_in(slurp(d / "err"));
  ASSERT_GT(port, 0) << slurp(d / "err");
  httplib::Client cli("127.0.0.1", port);
  auto res = cli.Get("/metrics");
  ASSERT_TRUE(res) << "no answer on port " << port;
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->get_header_value("Content-Type").find("text/plain"), std::string::npos);
  const auto m = parse_metrics(res->body);
  EXPECT_EQ(m.at("plait_step"), 4);  // the run is held after logging and committing step 4
  EXPECT_TRUE(std::isfinite(m.at("plait_loss")));
  EXPECT_GT(m.at("plait_loss"), 0);
  EXPECT_GT(m.at("plait_tokens_per_second"), 0);
  EXPECT_EQ(m.at("plait_checkpoint_step"), 4);
  EXPECT_EQ(m.at("plait_restarts_total"), 0);
  EXPECT_EQ(m.at("plait_healthy"), 1);
  for (const char* r : {"0", "1"}) {
    const std::string lab = std::string("{rank=\"") + r + "\"}";
    // rank 0 finished step 4, which needed rank 1's part of it: both timed a step
    EXPECT_GT(m.at("plait_rank_step_seconds" + lab), 0) << r;
    EXPECT_GT(m.at("plait_rank_compute_seconds" + lab), 0) << r;
    EXPECT_GE(m.at("plait_rank_wait_seconds" + lab), 0) << r;
    EXPECT_EQ(m.at("plait_rank_heartbeat_age_seconds" + lab), 0) << r;  // live slots
  }
  res = cli.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->body, "ok: step 4\n");
  EXPECT_EQ(cli.Get("/nothing")->status, 404);
  end_process(pid, SIGKILL);
  // the metrics log's lines carry every rank's timing (the first may lack rank 1's: it
  // may not have finished its first step when rank 0 logs; nothing waits for heartbeats)
  std::istringstream log(slurp(d / "log.jsonl"));
  int timed = 0;
  for (std::string line; std::getline(log, line);) {
    const auto j = nlohmann::json::parse(line);
    if (!j.contains("rank_timing")) continue;
    ++timed;
    const auto& t = j["rank_timing"];
    ASSERT_EQ(t.size(), timed == 1 && t.size() == 1 ? 1u : 2u) << line;
    EXPECT_EQ(t[0]["rank"], 0) << line;
    EXPECT_EQ(t[0]["step"], j["step"]) << line;  // the logging rank's own step
    EXPECT_GT(t[0]["step_s"].get<double>(), 0) << line;
    EXPECT_GE(t[0]["step_s"].get<double>(), t[0]["compute_s"].get<double>()) << line;
  }
  EXPECT_EQ(timed, 4);
}

TEST_F(MetricsPort, PortInUseIsAUsageError) {
  httplib::Server taken;
  const int port = taken.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  const Result r = run_plait("train --data " + (d / "c.txt") +
                             " --layers 1 --dim 16 --heads 2 --ctx 8 --batch 2 --steps 1"
                             " --no-progress --metrics-port " + std::to_string(port));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--metrics-port " + std::to_string(port) + ": cannot listen"),
            std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  const Result big = run_plait("train --data " + (d / "c.txt") + " --metrics-port 70000");
  EXPECT_EQ(big.code, 2) << big.err;
  EXPECT_NE(big.err.find("--metrics-port"), std::string::npos) << big.err;
}

TEST_F(MetricsPort, SupervisorServesAcrossARestart) {
  // killed as it starts step 3 (checkpoint 2 committed), restarted, held after step 6
  const pid_t pid = start(args(d, "sup") + " --max-restarts 2",
                          "PLAIT_TEST_KILL=0:3 PLAIT_TEST_PAUSE_AFTER_CHECKPOINT=6", d / "err",
                          d / "pid");
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(wait_for_file(d.path / "sup/paused")) << slurp(d / "err");
  const std::string err = slurp(d / "err");
  EXPECT_NE(err.find("(served by the supervisor)"), std::string::npos) << err;
  EXPECT_NE(err.find("restart 1 of 2 from step-00000002"), std::string::npos) << err;
  const int port = metrics_port_in(err);
  ASSERT_GT(port, 0) << err;
  EXPECT_EQ(err.find("metrics: http"), err.rfind("metrics: http")) << "only the supervisor serves: " << err;
  httplib::Client cli("127.0.0.1", port);
  // The held child publishes its files every heartbeat period; the pause can come
  // before the first publish, so read until step 6 is there (bounded, not timed).
  httplib::Result res = cli.Get("/metrics");
  for (int i = 0; i < 200 && res && parse_metrics(res->body).count("plait_rank_step{rank=\"1\"}") == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    res = cli.Get("/metrics");
  }
  ASSERT_TRUE(res) << "no answer on port " << port;
  const auto m = parse_metrics(res->body);
  EXPECT_EQ(m.at("plait_restarts_total"), 1);
  EXPECT_EQ(m.at("plait_checkpoint_step"), 6);
  EXPECT_EQ(m.count("plait_rank_step{rank=\"0\"}"), 1u) << res->body;
  EXPECT_EQ(m.count("plait_rank_step{rank=\"1\"}"), 1u) << res->body;
  EXPECT_TRUE(cli.Get("/healthz"));
  end_process(pid, SIGTERM);  // forwarded to the held child; no restart after
  EXPECT_NE(kill(pid, 0), 0) << "the supervisor did not end";
}

}  // namespace
}  // namespace plait::test
