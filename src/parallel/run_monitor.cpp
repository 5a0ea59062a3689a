#include "parallel/run_monitor.h"

#include <cstdio>
#include <cstdlib>

namespace plait {

std::unique_ptr<fault::MetricsServer> start_metrics_server(const TrainOptions& opt,
                                                           const fault::Monitor& monitor,
                                                           BeatSource beats) {
  if (opt.metrics_port < 0 || std::getenv(kMetricsServedEnv) != nullptr) return nullptr;
  auto view = [&opt, &monitor, beats = std::move(beats)] {
    fault::MonitorView v;
    v.run = monitor.scalars();
    v.beats = beats();
    fault::add_run_dir(opt.checkpoint_dir, v);
    return v;
  };
  auto server = std::make_unique<fault::MetricsServer>(opt.metrics_host, opt.metrics_port,
                                                       std::move(view), opt.heartbeat_timeout_s);
  std::fprintf(stderr, "metrics: http://%s:%d/metrics and /healthz\n", opt.metrics_host.c_str(),
               server->port());
  return server;
}

void publish_scalars(const TrainOptions& opt, const fault::Monitor& monitor) {
  if (!opt.checkpoint_dir.empty()) fault::write_scalars_file(opt.checkpoint_dir, monitor.scalars());
}

}  // namespace plait
