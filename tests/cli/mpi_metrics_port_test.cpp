// --metrics-port under MPI (docs/FAULT_TOLERANCE.md "Monitoring"): `mpirun ... plait
// train --backend mpi` serves /metrics from rank 0, with the per-rank series read from
// the heartbeat files; `plait launch` serves it from the supervisor across a restart of
// the whole mpirun job. Runs are held at a known point by a test hook
// (PLAIT_TEST_PAUSE_AFTER_CHECKPOINT) and scraped over loopback with httplib's client;
// the only waits are bounded polls for files the run writes, no timing thresholds.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "metrics_helpers.h"
#include "run_plait.h"

namespace plait::test {
namespace {

namespace fs = std::filesystem;

// Every mpirun here runs on this one machine, as root in CI, with more ranks than cores.
const char* kMpiEnv =
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
    "OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none";

std::string train_args(const TempDir& d, const std::string& run) {
  return tiny_train_args(d, run, "--batch 4 --steps 8 --checkpoint-every 2"
                                 " --heartbeat-timeout 600 --metrics-port 0");
}

// `cmd` (with `env` and kMpiEnv) in the background; its pid.
pid_t start(const std::string& cmd, const std::string& env, const std::string& err,
            const std::string& pidfile) {
  return start_background(cmd, std::string(kMpiEnv) + " " + env, err, pidfile);
}

// SIGTERM: mpirun ends its ranks; the supervisor passes it on to mpirun.
void end(pid_t pid) { end_process(pid, SIGTERM); }

// /metrics, read again until the logged step and both ranks' heartbeat files have
// reached `step` (the files are written every 0.25 s, so a held run's last one may come
// after the pause); bounded: 20 s.
std::map<std::string, double> scrape_both_ranks(httplib::Client& cli, double step) {
  std::map<std::string, double> m;
  for (int i = 0; i < 200; ++i) {
    auto res = cli.Get("/metrics");
    if (res && res->status == 200) {
      m = parse_metrics(res->body);
      auto at_least = [&](const std::string& k) { return m.count(k) && m.at(k) >= step; };
      if (at_least("plait_step") && at_least("plait_rank_step{rank=\"0\"}") &&
          at_least("plait_rank_step{rank=\"1\"}"))
        break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return m;
}

class MpiMetricsPort : public CorpusTest {};

TEST_F(MpiMetricsPort, RankZeroServesUnderMpirun) {
  const pid_t pid = start(std::string(PLAIT_MPIEXEC) + " -np 2 " + PLAIT_BINARY + " " +
                              train_args(d, "run") + " --backend mpi",
                          "PLAIT_TEST_PAUSE_AFTER_CHECKPOINT=4", d / "err", d / "pid");
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(wait_for_file(d.path / "run/paused")) << slurp(d / "err");
  const std::string err = slurp(d / "err");
  const int port = metrics_port_in(err);
  ASSERT_GT(port, 0) << err;
  EXPECT_EQ(err.find("metrics: http"), err.rfind("metrics: http")) << "only rank 0 serves: " << err;
  httplib::Client cli("127.0.0.1", port);
  const auto m = scrape_both_ranks(cli, 4);
  ASSERT_FALSE(m.empty()) << "no answer on port " << port;
  EXPECT_EQ(m.at("plait_step"), 4);  // rank 0 is held after logging and committing step 4
  EXPECT_TRUE(std::isfinite(m.at("plait_loss")));
  EXPECT_GT(m.at("plait_tokens_per_second"), 0);
  EXPECT_EQ(m.at("plait_checkpoint_step"), 4);
  EXPECT_EQ(m.at("plait_restarts_total"), 0);
  EXPECT_EQ(m.at("plait_healthy"), 1);
  for (const char* r : {"0", "1"}) {  // rank 1's series come from its heartbeat file
    const std::string lab = std::string("{rank=\"") + r + "\"}";
    EXPECT_GE(m.at("plait_rank_step" + lab), 4) << r;
    EXPECT_GT(m.at("plait_rank_step_seconds" + lab), 0) << r;
    EXPECT_GE(m.at("plait_rank_wait_seconds" + lab), 0) << r;
    EXPECT_GE(m.at("plait_rank_heartbeat_age_seconds" + lab), 0) << r;
  }
  auto res = cli.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->body, "ok: step 4\n");
  end(pid);
  EXPECT_NE(kill(pid, 0), 0) << "mpirun did not end";
}

TEST_F(MpiMetricsPort, LaunchServesAcrossARestart) {
  // rank 1 is killed as it starts step 3 (checkpoint 2 committed): mpirun ends the job,
  // plait launch restarts it, and the new job is held after step 6
  const pid_t pid = start(std::string(PLAIT_BINARY) + " launch --np 2 --mpirun " +
                              PLAIT_MPIEXEC + " --max-restarts 2 -- " + train_args(d, "sup"),
                          "PLAIT_TEST_KILL=1:3 PLAIT_TEST_PAUSE_AFTER_CHECKPOINT=6", d / "err",
                          d / "pid");
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(wait_for_file(d.path / "sup/paused")) << slurp(d / "err");
  const std::string err = slurp(d / "err");
  EXPECT_NE(err.find("(served by the supervisor)"), std::string::npos) << err;
  EXPECT_NE(err.find("restart 1 of 2 from step-00000002"), std::string::npos) << err;
  const int port = metrics_port_in(err);
  ASSERT_GT(port, 0) << err;
  EXPECT_EQ(err.find("metrics: http"), err.rfind("metrics: http"))
      << "only the supervisor serves, not rank 0: " << err;
  httplib::Client cli("127.0.0.1", port);
  const auto m = scrape_both_ranks(cli, 6);
  ASSERT_FALSE(m.empty()) << "no answer on port " << port;
  EXPECT_EQ(m.at("plait_restarts_total"), 1);
  EXPECT_EQ(m.at("plait_checkpoint_step"), 6);
  EXPECT_EQ(m.at("plait_step"), 6);  // from the children's RUN/heartbeat/metrics.json
  EXPECT_GE(m.at("plait_rank_step{rank=\"0\"}"), 6);
  EXPECT_GE(m.at("plait_rank_step{rank=\"1\"}"), 6);
  auto res = cli.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  end(pid);  // forwarded to mpirun, which ends the held job; no restart after
  EXPECT_NE(kill(pid, 0), 0) << "plait launch did not end";
}

}  // namespace
}  // namespace plait::test
