// The HTTP side of --metrics-port (fault/monitor.h): GET /metrics (Prometheus text) and
// GET /healthz (200 "ok ...", or 503 with the reason), served by cpp-httplib on its
// own thread. Each request builds its view by calling `view` there; training never
// waits for it.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "fault/monitor.h"

namespace httplib {
class Server;
}

namespace plait::fault {

class MetricsServer {
 public:
  // Listens on host:port (port 0: any free one; port() says which). UsageError naming
  // --metrics-port when it cannot (in use, not an address here). `limit_s`: the
  // heartbeat limit /healthz applies (--heartbeat-timeout; 0: auto).
  MetricsServer(const std::string& host, int port, std::function<MonitorView()> view,
                double limit_s);
  ~MetricsServer();  // stops and joins
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  int port() const { return port_; }

 private:
  std::unique_ptr<httplib::Server> http_;
  std::function<MonitorView()> view_;
  double limit_s_;
  int port_ = -1;
  std::atomic<bool> done_{false};  // the listening loop has returned
  std::thread thread_;
};

}  // namespace plait::fault
