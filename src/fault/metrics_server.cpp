#include "fault/metrics_server.h"

#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>

#include <chrono>

#include "util/error.h"

namespace plait::fault {

MetricsServer::MetricsServer(const std::string& host, int port, std::function<MonitorView()> view,
                             double limit_s)
    : http_(std::make_unique<httplib::Server>()), view_(std::move(view)), limit_s_(limit_s) {
  if (port < 0 || port > 65535)
    throw UsageError("--metrics-port must be in [0, 65535], got " + std::to_string(port));
  // two threads: a scrape and a health check at once; nothing here is slow
  http_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(prometheus_text(view_(), limit_s_), "text/plain; version=0.0.4; charset=utf-8");
  });
  http_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    const MonitorView v = view_();
    const std::string why = unhealthy_reason(v, limit_s_);
    res.status = why.empty() ? 200 : 503;
    res.set_content(why.empty() ? "ok: step " + std::to_string(v.run.step) + "\n" : why + "\n",
                    "text/plain; charset=utf-8");
  });
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, with which a second
  // server could bind a port in use without an error
  http_->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // a scraper that goes away must not kill the run: writes then fail with EPIPE
  ::signal(SIGPIPE, SIG_IGN);
  port_ = port == 0 ? http_->bind_to_any_port(host)
                    : (http_->bind_to_port(host, port) ? port : -1);
  if (port_ < 0)
    throw UsageError("--metrics-port " + std::to_string(port) + ": cannot listen on " + host +
                     ":" + std::to_string(port) + " (in use, or not an address here?)");
  thread_ = std::thread([this] {
    http_->listen_after_bind();
    done_ = true;
  });
}

MetricsServer::~MetricsServer() {
  // httplib's stop() does nothing before the listening loop has begun
  while (!done_ && !http_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace plait::fault
