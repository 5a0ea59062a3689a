// plait serve: an HTTP server (cpp-httplib, from Debian's libcpp-httplib-dev) in front
// of the continuously batched engine (infer/engine.h).
//
//   GET  /healthz          {"status":"ok","model":{config},"pending":n,"queue_limit":q,
//                           "finished":{"length":n,"stop":n,"cancelled":n}}
//   POST /v1/completions   OpenAI's completions request (infer/request_json.h):
//                          prompt, max_tokens, temperature, top_k, top_p,
//                          repetition_penalty, seed, stop, stream. The answer is
//                          OpenAI's text_completion object, or with "stream": true
//                          server-sent events, one `data: {chunk}` per piece of text,
//                          a last chunk with the finish_reason, then `data: [DONE]`.
//
// Threads: cpp-httplib runs each connection on a pool thread; the handler submits the
// request to the engine and waits for its tokens. ONE engine thread runs the decode
// steps; requests join and leave the batch between steps, so concurrent clients share
// each forward pass (continuous batching).
//
// Limits: a body over max_body_bytes is refused with 413; a request that does not
// parse or has a bad field with 400; when queue_limit requests are already waiting or
// running, 429. Every error is a JSON body {"error": {"message", "type"}}. A streaming
// client that goes away mid-stream cancels its request at the next token (the write
// fails); the server carries on.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "data/tokenizer.h"
#include "infer/engine.h"

namespace httplib {
class Server;
struct Response;
}

namespace plait::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                  // 0: any free port (bind() says which)
  int queue_limit = 64;             // requests waiting or generating; more: 429
  size_t max_body_bytes = 1 << 20;  // larger bodies: 413
  int max_tokens_limit = 4096;      // a request's max_tokens above it: 400
  int default_max_tokens = 16;      // OpenAI's default
  std::string model_name = "plait";
};

class Server {
 public:
  // The model (its slots are the batch: a Decoder, or rank 0 of a MeshDecoder) and the
  // tokenizer are borrowed.
  Server(infer::StepModel& dec, const data::Tokenizer& tok, ServerOptions opt);
  ~Server();

  // Binds the socket; returns the port. UsageError when it cannot.
  int bind();
  // Serves until stop(); call bind() first.
  void run();
  // Stops serving (any thread); requests in flight end "cancelled".
  void stop();

  // Tests: while paused the engine takes no step (requests stay queued).
  void set_paused(bool paused);
  size_t pending() const { return engine_.pending(); }
  // Requests finished so far with reason r.
  uint64_t finished(infer::FinishReason r) const { return finished_[static_cast<int>(r)]; }

 private:
  struct Stream;
  void routes();
  void engine_loop();
  std::shared_ptr<Stream> submit(infer::Request r, uint64_t& id, std::string& error);
  void stream(httplib::Response& res, std::shared_ptr<Stream> st, uint64_t id,
              const nlohmann::json& head);

  infer::Engine engine_;
  const data::Tokenizer& tok_;
  ServerOptions opt_;
  nlohmann::json model_json_;
  std::unique_ptr<httplib::Server> http_;
  std::mutex admit_mu_;  // the queue check and the submit are one step
  std::mutex wake_mu_;
  std::condition_variable wake_;
  std::atomic<bool> stopping_{false}, paused_{false};
  std::atomic<uint64_t> finished_[4] = {};  // by FinishReason
  std::thread engine_thread_;
  int listen_fd_ = -1;  // the bound socket (set by httplib's socket-options hook)
};

// The listening socket's backlog (cpp-httplib's own is 5).
inline constexpr int kListenBacklog = 1024;

}  // namespace plait::serve
