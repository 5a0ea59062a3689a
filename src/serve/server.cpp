#include "serve/server.h"

#include <httplib.h>
#include <signal.h>
#include <sys/socket.h>

#include <chrono>
#include <ctime>
#include <deque>

#include "infer/request_json.h"
#include "util/error.h"

namespace plait::serve {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void send_error(httplib::Response& res, int status, const std::string& message,
                const std::string& type) {
  res.status = status;
  res.set_content(dump({{"error", {{"message", message}, {"type", type}, {"code", nullptr}}}}),
                  "application/json");
}

}  // namespace

// What the engine thread hands to the HTTP thread serving one request.
struct Server::Stream {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> pieces;  // text not yet sent
  bool done = false;
  infer::Result result;
  size_t prompt_tokens = 0;
};

Server::Server(infer::StepModel& dec, const data::Tokenizer& tok, ServerOptions opt)
    : engine_(dec, &tok), tok_(tok), opt_(std::move(opt)),
      model_json_(dec.config().to_json()), http_(std::make_unique<httplib::Server>()) {
  if (opt_.queue_limit < 1) throw UsageError("--queue must be at least 1");
  if (opt_.port < 0 || opt_.port > 65535) throw UsageError("--port must be in [0, 65535]");
  if (opt_.max_tokens_limit < 0) throw UsageError("--max-tokens-limit must not be negative");
  // a stream thread per queued request, and some to answer 429 and /healthz meanwhile
  const size_t threads = static_cast<size_t>(opt_.queue_limit) + 8;
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_->set_payload_max_length(opt_.max_body_bytes);
  // remember the listening socket (bind() raises its backlog); keep httplib's options
  http_->set_socket_options([this](socket_t s) {
    httplib::default_socket_options(s);
    listen_fd_ = s;
  });
  routes();
}

Server::~Server() {
  stop();
  if (engine_thread_.joinable()) engine_thread_.join();
}

int Server::bind() {
  // a client that goes away must not kill the server: writes then fail with EPIPE
  ::signal(SIGPIPE, SIG_IGN);
  const int port = opt_.port == 0 ? http_->bind_to_any_port(opt_.host)
                                  : (http_->bind_to_port(opt_.host, opt_.port) ? opt_.port : -1);
  if (port < 0)
    throw UsageError("--port " + std::to_string(opt_.port) + ": cannot listen on " + opt_.host +
                     ":" + std::to_string(opt_.port) + " (in use, or not an address here?)");
  // Debian's cpp-httplib is a shared library built with a listen backlog of 5: dozens
  // of clients connecting at once overflow it and see connections reset. listen()
  // again on the bound socket raises it (to the kernel's net.core.somaxconn at most).
  if (listen_fd_ >= 0 && ::listen(listen_fd_, kListenBacklog) != 0)
    throw RuntimeError("serve: cannot raise the listen backlog of " + opt_.host + ":" +
                       std::to_string(port));
  return port;
}

void Server::run() {
  engine_thread_ = std::thread([this] { engine_loop(); });
  http_->listen_after_bind();
  stop();
  engine_thread_.join();
}

void Server::stop() {
  stopping_ = true;
  wake_.notify_all();
  http_->stop();
}

void Server::set_paused(bool paused) {
  paused_ = paused;
  wake_.notify_all();
}

void Server::engine_loop() {
  while (!stopping_) {
    if (!paused_ && engine_.step()) continue;
    std::unique_lock lock(wake_mu_);
    wake_.wait_for(lock, 50ms, [&] { return stopping_ || (!paused_ && engine_.pending() > 0); });
  }
}

// Queues r unless the queue is full; "" error on success.
std::shared_ptr<Server::Stream> Server::submit(infer::Request r, uint64_t& id,
                                               std::string& error) {
  auto st = std::make_shared<Stream>();
  st->prompt_tokens = r.prompt.size();
  infer::Callbacks cb;
  cb.on_token = [st](int32_t, std::string_view text) {
    if (text.empty()) return;
    std::lock_guard lock(st->mu);
    st->pieces.emplace_back(text);
    st->cv.notify_all();
  };
  cb.on_done = [this, st](const infer::Result& r) {
    ++finished_[static_cast<int>(r.reason)];
    std::lock_guard lock(st->mu);
    st->result = r;
    st->done = true;
    st->cv.notify_all();
  };
  {
    std::lock_guard lock(admit_mu_);
    if (engine_.pending() >= static_cast<size_t>(opt_.queue_limit)) {
      error = "the server is busy: " + std::to_string(opt_.queue_limit) +
              " requests are queued or running; retry later";
      return nullptr;
    }
    id = engine_.submit(std::move(r), std::move(cb));
  }
  wake_.notify_all();
  return st;
}

// Server-sent events: a chunk per piece of text as the engine produces it. The
// provider runs on the connection's thread; it waits for pieces (up to 100 ms at a
// time, so a stop is noticed) and writes them without holding the stream's lock, so
// a slow client never blocks the engine thread. A failed write (the client went
// away) ends the response; the releaser then cancels the request.
void Server::stream(httplib::Response& res, std::shared_ptr<Stream> st, uint64_t id,
                    const json& head) {
  auto chunk = [head](const std::string& text, const json& finish) {
    json c = head;
    c["choices"] = json::array(
        {{{"text", text}, {"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish}}});
    return "data: " + dump(c) + "\n\n";
  };
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, st, chunk](size_t, httplib::DataSink& sink) {
        std::deque<std::string> pieces;
        bool done;
        {
          std::unique_lock lock(st->mu);
          st->cv.wait_for(lock, 100ms, [&] { return st->done || !st->pieces.empty(); });
          pieces.swap(st->pieces);
          done = st->done;
        }
        for (const auto& p : pieces) {
          const std::string c = chunk(p, nullptr);
          if (!sink.write(c.data(), c.size())) return false;
        }
        if (stopping_ && !done) return false;
        if (!done) return true;
        const std::string last =
            chunk("", infer::finish_reason_name(st->result.reason)) + "data: [DONE]\n\n";
        if (!sink.write(last.data(), last.size())) return false;
        sink.done();
        return true;
      },
      [this, st, id](bool) {
        std::lock_guard lock(st->mu);
        if (!st->done) engine_.cancel(id);
      });
}

void Server::routes() {
  http_->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    const std::string msg = res.status == 413 ? "the request body is too large"
                            : res.status == 404 ? "no such endpoint"
                                                : "bad request";
    send_error(res, res.status, msg, "invalid_request_error");
  });
  http_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(dump({{"status", "ok"},
                          {"model", model_json_},
                          {"pending", engine_.pending()},
                          {"queue_limit", opt_.queue_limit},
                          {"finished",
                           {{"length", finished(infer::FinishReason::length)},
                            {"stop", finished(infer::FinishReason::stop) +
                                         finished(infer::FinishReason::end_of_text)},
                            {"cancelled", finished(infer::FinishReason::cancelled)}}}}),
                    "application/json");
  });
  http_->Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    const json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded())
      return send_error(res, 400, "the body is not valid JSON", "invalid_request_error");
    infer::JsonRequest jr;
    try {
      infer::Request defaults;
      defaults.max_tokens = opt_.default_max_tokens;
      jr = infer::request_from_json(body, tok_, defaults);
      if (jr.request.max_tokens > opt_.max_tokens_limit)
        throw UsageError("'max_tokens' must be at most " + std::to_string(opt_.max_tokens_limit));
    } catch (const UsageError& e) {
      return send_error(res, 400, e.what(), "invalid_request_error");
    }
    uint64_t id = 0;
    std::string busy;
    auto st = submit(std::move(jr.request), id, busy);
    if (!st) return send_error(res, 429, busy, "rate_limit_error");
    const json head = {{"id", "cmpl-" + std::to_string(id)},
                       {"object", "text_completion"},
                       {"created", static_cast<int64_t>(std::time(nullptr))},
                       {"model", opt_.model_name}};
    if (jr.stream) return stream(res, st, id, head);
    std::unique_lock lock(st->mu);
    st->cv.wait(lock, [&] { return st->done || stopping_; });
    if (!st->done) return send_error(res, 503, "the server is stopping", "server_error");
    json out = head;
    out["choices"] = json::array({{{"text", st->result.text},
                                   {"index", 0},
                                   {"logprobs", nullptr},
                                   {"finish_reason", infer::finish_reason_name(st->result.reason)}}});
    const size_t n = st->result.tokens.size();
    out["usage"] = {{"prompt_tokens", st->prompt_tokens},
                    {"completion_tokens", n},
                    {"total_tokens", st->prompt_tokens + n}};
    res.set_content(dump(out), "application/json");
  });
}

}  // namespace plait::serve
