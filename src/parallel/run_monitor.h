// --metrics-port in a training process (fault/monitor.h, fault/metrics_server.h): the
// process that logs (threads: the process; MPI: rank 0) publishes each step to a
// Monitor and serves /metrics and /healthz itself, unless a supervisor serves them
// across restarts (kMetricsServedEnv set: then the scalars go to
// RUN/heartbeat/metrics.json for it, with the heartbeat files).
#pragma once
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "fault/heartbeat.h"
#include "fault/metrics_server.h"
#include "fault/monitor.h"
#include "parallel/train_options.h"

namespace plait {

// Set by a supervisor that serves --metrics-port itself (cli/supervise_cmd.cpp).
inline constexpr const char* kMetricsServedEnv = "PLAIT_METRICS_SERVED";

using BeatSource = std::function<std::vector<fault::Beat>()>;

// The newest beats a poller read (MPI rank 0's watchdog reads every rank's file every
// kPublishSeconds), for readers that must not read files themselves (the metrics log,
// every step).
class BeatCache {
 public:
  void set(std::vector<fault::Beat> b) {
    std::lock_guard lock(m_);
    beats_ = std::move(b);
  }
  std::vector<fault::Beat> get() const {
    std::lock_guard lock(m_);
    return beats_;
  }

 private:
  mutable std::mutex m_;
  std::vector<fault::Beat> beats_;
};

// The /metrics server of this process when opt asks for one and no supervisor serves
// it (null otherwise); prints where it listens. UsageError when the port is taken.
std::unique_ptr<fault::MetricsServer> start_metrics_server(const TrainOptions& opt,
                                                           const fault::Monitor& monitor,
                                                           BeatSource beats);

// Writes the monitor's scalars beside the heartbeat files (with --checkpoint-dir).
void publish_scalars(const TrainOptions& opt, const fault::Monitor& monitor);

}  // namespace plait
