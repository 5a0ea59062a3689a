// Emulated links: a transfer never finishes before its α-β time. (Only lower bounds:
// a loaded machine can always be slower.)
#include "comm/emulated_links.h"

#include <chrono>

#include "comm_helpers.h"

namespace plait::comm {
namespace {

double seconds_of(const ThreadsOptions& o, const std::function<void(Comm&)>& body) {
  const auto t0 = std::chrono::steady_clock::now();
  run_threads(o, body);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(EmulatedLinks, ClassifiesLinksByNode) {
  EmulatedLinks links(4, 2, parse_link("1us:1GB/s"), parse_link("1ms:1MB/s"));
  EXPECT_TRUE(links.enabled());
  EXPECT_EQ(links.link(0, 1).latency_s, 1e-6);
  EXPECT_EQ(links.link(1, 2).latency_s, 1e-3);
  EXPECT_FALSE(EmulatedLinks(4, 2, {}, {}).enabled());
}

TEST(EmulatedLinks, PortsSerialiseMessagesAndReceiversWaitForArrival) {
  EmulatedLinks links(3, 0, parse_link("1ms:1GB/s"), {});
  const auto t0 = EmulatedLinks::Clock::now();
  const auto a = links.depart(0, 1, 1000000);  // 1 ms + 1 ms
  const auto b = links.depart(0, 2, 1000000);  // queued behind it: 4 ms
  EXPECT_GE(a - t0, std::chrono::microseconds(2000));
  EXPECT_GE(b - t0, std::chrono::microseconds(4000));
  // Rank 1's ingress: free, so the message is in when it has left.
  EXPECT_EQ(links.arrive(1, 0, 1000000, a), a);
  // A second message into rank 1 sent at the same time queues behind the first.
  EXPECT_GE(links.arrive(1, 2, 1000000, a) - a, std::chrono::microseconds(2000));
}

TEST(EmulatedLinks, RingTakesAtLeastItsAlphaBetaTime) {
  ThreadsOptions o = test::threads(2);
  o.intra = parse_link("1ms:200MB/s");
  const std::size_t n = 1 << 18;  // 1 MiB of floats: 2 steps of 512 KiB
  const double predicted = 2 * (1e-3 + (n * 4 / 2) / 200e6);
  const double took = seconds_of(o, [&](Comm& c) {
    std::vector<float> v = test::filled(c.rank(), n);
    allreduce(c.world(), std::span<float>(v));
    if (test::first_wrong(v, 2) >= 0) throw std::runtime_error("wrong sum");
  });
  EXPECT_GE(took, 0.95 * predicted);
}

TEST(EmulatedLinks, ParameterServerQueuesAtTheServer) {
  ThreadsOptions o = test::threads(4, 1);
  o.inter = parse_link("2ms:inf");
  // One server: 3 messages in through its port, 3 out: at least 6 latencies.
  const double took = seconds_of(o, [&](Comm& c) {
    std::vector<float> v = test::filled(c.rank(), 10);
    allreduce(c.world(), std::span<float>(v), {Algorithm::ps});
    if (test::first_wrong(v, 4) >= 0) throw std::runtime_error("wrong sum");
  });
  EXPECT_GE(took, 0.95 * 6 * 2e-3);
}

}  // namespace
}  // namespace plait::comm
