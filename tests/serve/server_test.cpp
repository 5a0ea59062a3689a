// plait serve over loopback: completions equal the engine's own output (plain and
// streamed), concurrent clients each get what they get alone, and bad requests get
// the right status with a JSON error: malformed JSON and bad fields 400, an oversize
// body 413, a full queue 429; a client that leaves mid-stream cancels its request
// and the server carries on.
#include <arpa/inet.h>
#include <httplib.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "comm/comm.h"
#include "infer/engine.h"
#include "infer/mesh_decoder.h"
#include "model/gpt.h"
#include "serve/server.h"

namespace plait::serve {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

GPT tiny() {
  GPT m(GPTConfig{256, 32, 2, 32, 4});
  m.init_weights(11);
  return m;
}

// A model, its decoder and a server on a free loopback port, serving on a thread.
struct Running {
  GPT model = tiny();
  data::ByteTokenizer tok;
  infer::Decoder dec;
  Server server;
  int port;
  std::thread thread;
  explicit Running(ServerOptions opt = {}, int slots = 4)
      : dec(model.config(), model.params, slots), server(dec, tok, with_port0(opt)),
        port(server.bind()), thread([this] { server.run(); }) {}
  ~Running() {
    server.stop();
    thread.join();
  }
  static ServerOptions with_port0(ServerOptions o) {
    o.port = 0;
    return o;
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60, 0);
    return c;
  }
  // What the engine alone generates for `r` (its own decoder).
  infer::Result alone(const infer::Request& r) {
    infer::Decoder d(model.config(), model.params, 1);
    infer::Engine e(d, &tok);
    infer::Result out;
    e.submit(r, {.on_token = {}, .on_done = [&](const infer::Result& x) { out = x; }});
    e.run_until_idle();
    return out;
  }
};

// Text as a JSON body carries it: bytes that are not UTF-8 become U+FFFD (the tiny
// random model writes arbitrary bytes).
std::string as_json(const std::string& text) {
  return json::parse(json(text).dump(-1, ' ', false, json::error_handler_t::replace)).get<std::string>();
}

infer::Request request(const std::string& prompt, int max_tokens, float temperature,
                       uint64_t seed) {
  infer::Request r;
  r.prompt = data::encode(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = temperature;
  r.sampling.seed = seed;
  return r;
}

json body(const std::string& prompt, int max_tokens, float temperature, uint64_t seed,
          bool stream = false) {
  return {{"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", temperature},
          {"seed", seed},     {"stream", stream},         {"model", "ignored"}};
}

// The text of a server-sent event stream, and its last finish_reason.
std::pair<std::string, std::string> read_events(const std::string& sse) {
  std::string text, finish;
  size_t pos = 0;
  bool saw_done = false;
  while ((pos = sse.find("data: ", pos)) != std::string::npos) {
    const size_t end = sse.find("\n\n", pos);
    const std::string data = sse.substr(pos + 6, end - pos - 6);
    pos = end;
    if (data == "[DONE]") {
      saw_done = true;
      continue;
    }
    const json c = json::parse(data);
    text += c["choices"][0]["text"].get<std::string>();
    if (!c["choices"][0]["finish_reason"].is_null()) finish = c["choices"][0]["finish_reason"];
  }
  EXPECT_TRUE(saw_done) << sse;
  return {text, finish};
}

TEST(Server, HealthzAndACompletionEqualToTheEngine) {
  Running s;
  auto c = s.client();
  auto h = c.Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(json::parse(h->body)["status"], "ok");
  EXPECT_EQ(json::parse(h->body)["model"]["ctx"], 32);
  auto r = c.Post("/v1/completions", body("The ", 40, 0.8f, 7).dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json j = json::parse(r->body);
  const auto want = s.alone(request("The ", 40, 0.8f, 7));
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["text"], as_json(want.text));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["completion_tokens"], 40);
  EXPECT_EQ(j["usage"]["prompt_tokens"], 4);
}

TEST(Server, StreamedEventsAddUpToTheCompletion) {
  Running s;
  auto c = s.client();
  auto r = c.Post("/v1/completions", body("Hello", 50, 0.0f, 1, true).dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  const auto [text, finish] = read_events(r->body);
  EXPECT_EQ(text, as_json(s.alone(request("Hello", 50, 0.0f, 1)).text));
  EXPECT_EQ(finish, "length");
}

TEST(Server, ConcurrentClientsShareTheBatchAndEachGetsItsOwnAnswer) {
  Running s({}, 4);  // 12 clients, 4 slots: requests join as others leave
  std::vector<std::future<std::pair<int, std::string>>> answers;
  for (int i = 0; i < 12; ++i)
    answers.push_back(std::async(std::launch::async, [&s, i] {
      auto c = s.client();
      auto r = c.Post("/v1/completions",
                      body("prompt " + std::to_string(i), 10 + 3 * i, 0.9f, i, i % 2).dump(),
                      "application/json");
      if (!r) return std::pair{-1, std::string()};
      return std::pair{r->status, i % 2 ? read_events(r->body).first
                                        : json::parse(r->body)["choices"][0]["text"].get<std::string>()};
    }));
  for (int i = 0; i < 12; ++i) {
    const auto [status, text] = answers[i].get();
    ASSERT_EQ(status, 200) << i;
    EXPECT_EQ(text, as_json(s.alone(request("prompt " + std::to_string(i), 10 + 3 * i, 0.9f, i)).text))
        << i;
  }
}

// A tp2 x pp2 mesh of threads behind the server (rank 0 serves, the others follow):
// concurrent greedy clients, plain and streamed, each get one worker's answer.
TEST(Server, ModelParallelServerAnswersAsOneWorker) {
  Running one({}, 1);
  std::vector<std::pair<int, std::string>> got(8);
  comm::ThreadsOptions o;
  o.world = 4;
  comm::run_threads(o, [&](comm::Comm& c) {
    infer::MeshDecoder mesh(c, one.model.config(), {2, 2, {}}, one.model.params, 4);
    if (!mesh.leader()) return mesh.follow();
    Server server(mesh, one.tok, Running::with_port0({}));
    const int port = server.bind();
    std::thread serving([&] { server.run(); });
    std::vector<std::future<std::pair<int, std::string>>> answers;
    for (int i = 0; i < 8; ++i)
      answers.push_back(std::async(std::launch::async, [port, i] {
        httplib::Client cl("127.0.0.1", port);
        cl.set_read_timeout(60, 0);
        auto r = cl.Post("/v1/completions",
                         body("prompt " + std::to_string(i), 12 + 5 * i, 0.0f, i, i % 2).dump(),
                         "application/json");
        if (!r) return std::pair{-1, std::string()};
        return std::pair{r->status, i % 2 ? read_events(r->body).first
                                          : json::parse(r->body)["choices"][0]["text"].get<std::string>()};
      }));
    for (int i = 0; i < 8; ++i) got[i] = answers[i].get();
    server.stop();
    serving.join();
    mesh.finish();
  });
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(got[i].first, 200) << i;
    EXPECT_EQ(got[i].second,
              as_json(one.alone(request("prompt " + std::to_string(i), 12 + 5 * i, 0.0f, i)).text))
        << i;
  }
}

// 40 clients connecting at once to a server that has not accepted yet: all of them
// complete the handshake (the kernel queues them: the listen backlog is 1024, not
// cpp-httplib's 5, which would leave all but 6 waiting and then reset).
TEST(Server, ListenBacklogHoldsManySimultaneousConnections) {
  const GPT model = tiny();
  data::ByteTokenizer tok;
  infer::Decoder dec(model.config(), model.params, 1);
  Server server(dec, tok, Running::with_port0({}));
  const int port = server.bind();  // bound and listening, never accepting (no run())
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<pollfd> fds;
  for (int i = 0; i < 40; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ASSERT_GE(fd, 0);
    const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ASSERT_TRUE(rc == 0 || errno == EINPROGRESS) << errno;
    fds.push_back({fd, POLLOUT, 0});
  }
  // a connection the backlog holds is writable at once; one it drops is not (its SYN
  // waits for a retransmission): 3 s bounds only the failing case
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  int connected = 0;
  while (!fds.empty() && std::chrono::steady_clock::now() < deadline) {
    if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
    std::erase_if(fds, [&](const pollfd& p) {
      if (!(p.revents & POLLOUT)) return false;
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      connected += err == 0;
      ::close(p.fd);
      return true;
    });
  }
  for (const auto& p : fds) ::close(p.fd);
  EXPECT_EQ(connected, 40);
}

TEST(Server, BadRequestsGet400WithAJsonError) {
  Running s;
  auto c = s.client();
  for (const std::string& bad :
       {std::string("{not json"), std::string("[1,2]"), std::string(R"({"max_tokens": 3})"),
        std::string(R"({"prompt": "a", "temperature": -1})"),
        std::string(R"({"prompt": "a", "top_p": "x"})"),
        std::string(R"({"prompt": "a", "max_tokens": 100000})")}) {
    auto r = c.Post("/v1/completions", bad, "application/json");
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 400) << bad;
    const json e = json::parse(r->body);
    EXPECT_TRUE(e["error"]["message"].is_string()) << r->body;
  }
  auto nf = c.Get("/nope");
  ASSERT_TRUE(nf);
  EXPECT_EQ(nf->status, 404);
  EXPECT_TRUE(json::parse(nf->body)["error"]["message"].is_string());
}

TEST(Server, OversizeBodyGets413) {
  ServerOptions o;
  o.max_body_bytes = 1000;
  Running s(o);
  auto c = s.client();
  auto r = c.Post("/v1/completions", body(std::string(5000, 'a'), 1, 0, 0).dump(),
                  "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(json::parse(r->body)["error"]["message"].is_string()) << r->body;
  auto ok = c.Post("/v1/completions", body("fine", 2, 0, 0).dump(), "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST(Server, FullQueueGets429) {
  ServerOptions o;
  o.queue_limit = 2;
  Running s(o);
  s.server.set_paused(true);  // nothing is generated: the queue stays full
  std::vector<std::future<int>> first;
  for (int i = 0; i < 2; ++i)
    first.push_back(std::async(std::launch::async, [&s] {
      auto r = s.client().Post("/v1/completions", body("x", 3, 0, 0).dump(), "application/json");
      return r ? r->status : -1;
    }));
  for (int i = 0; i < 600 && s.server.pending() < 2; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(s.server.pending(), 2u);
  auto r = s.client().Post("/v1/completions", body("x", 3, 0, 0).dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(json::parse(r->body)["error"]["type"], "rate_limit_error");
  s.server.set_paused(false);
  for (auto& f : first) EXPECT_EQ(f.get(), 200);
}

// Sends a streaming request on a raw socket, reads until the first event, closes.
void leave_mid_stream(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const std::string b = body("Leave", 4000, 0.5f, 3, true).dump();
  const std::string req = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                          "application/json\r\nContent-Length: " +
                          std::to_string(b.size()) + "\r\n\r\n" + b;
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  std::string got;
  char buf[4096];
  while (got.find("data: ") == std::string::npos) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    got.append(buf, n);
  }
  ::close(fd);
}

TEST(Server, ClientLeavingMidStreamCancelsItsRequest) {
  ServerOptions o;
  o.max_tokens_limit = 4000;
  Running s(o);
  leave_mid_stream(s.port);
  // the request (4000 tokens) is cancelled at its next write, long before it is done
  for (int i = 0; i < 2000 && s.server.pending() > 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(s.server.pending(), 0u);
  EXPECT_EQ(s.server.finished(infer::FinishReason::cancelled), 1u);
  EXPECT_EQ(s.server.finished(infer::FinishReason::length), 0u);
  auto r = s.client().Post("/v1/completions", body("still here", 5, 0, 0).dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace plait::serve
