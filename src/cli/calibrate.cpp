#include "cli/calibrate.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "comm/comm.h"
#include "plan/local_run.h"
#include "tensor/blas.h"
#include "tensor/kernels.h"

namespace plait::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The median of `reps` timings of body(); seconds.
template <class F>
double median_seconds(int reps, F&& body) {
  body();  // warm-up
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    body();
    t.push_back(seconds_since(t0));
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// The tensor module's sgemm yardstick (what `plait bench train` compares against) on
// the demo model's c_fc forward shape, N = 16 x 128 tokens, C = 256, OC = 1024, with
// one BLAS thread.
double measure_sgemm(double budget) {
  const int before = blas_threads();
  set_blas_threads(1);
  const int reps = std::max(5, static_cast<int>(budget / 0.02));
  const double gflops = measure_sgemm_gflops(2048, 1024, 256, reps);
  set_blas_threads(before);
  return gflops * 1e9;
}

// out[i] = a[i] + b[i] over 3 x 32 MiB (beyond the caches): bytes read + written per s.
double measure_memory(double budget) {
  const size_t n = 8u << 20;
  std::vector<float> a(n, 1.0f), b(n, 2.0f), out(n);
  const double once = median_seconds(3, [&] {
    for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
  });
  const int reps = std::max(3, static_cast<int>(budget / once));
  return 3.0 * n * sizeof(float) / median_seconds(reps, [&] {
           for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
         });
}

// plait's own GELU kernels, forward then backward, over the demo's fch (2048 x 1024):
// elements per second counting the backward as two passes (the cost model charges
// the forward once and the backward twice).
double measure_gelu(double budget) {
  const size_t n = 2048u * 1024u;
  std::vector<float> x(n), out(n), dout(n, 1e-3f), dx(n, 0.0f);
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(i % 2001) / 500.0f - 2.0f;
  auto pass = [&] {
    kernels::gelu_forward(out.data(), x.data(), n);
    kernels::gelu_backward(dx.data(), x.data(), dout.data(), n);
  };
  const double once = median_seconds(1, pass);
  const int reps = std::max(3, static_cast<int>(budget / once));
  return 3.0 * n / median_seconds(reps, pass);
}

// Latency: the median of single round trips of a flag between two threads, halved
// (spinning with yields, as a hand-off between workers). Bandwidth: another thread
// copies 32 MiB out of this one's buffer.
LinkSpec measure_link(double budget) {
  std::atomic<int> ball{0};
  std::atomic<bool> stop{false};
  std::thread peer([&] {
    int seen = 0;
    while (!stop.load(std::memory_order_acquire)) {
      const int v = ball.load(std::memory_order_acquire);
      if (v != seen && v % 2 == 1) {
        seen = v + 1;
        ball.store(seen, std::memory_order_release);
      } else {
        std::this_thread::yield();
      }
    }
  });
  std::vector<double> trips;
  const auto t0 = Clock::now();
  while (seconds_since(t0) < budget / 2 && trips.size() < 100000) {
    const auto s0 = Clock::now();
    const int serve = ball.load(std::memory_order_acquire) + 1;
    ball.store(serve, std::memory_order_release);
    while (ball.load(std::memory_order_acquire) != serve + 1) std::this_thread::yield();
    trips.push_back(seconds_since(s0));
  }
  stop.store(true, std::memory_order_release);
  peer.join();
  std::sort(trips.begin(), trips.end());
  const double latency = trips[trips.size() / 2] / 2;

  const size_t bytes = 32u << 20;
  std::vector<char> src(bytes, 1), dst(bytes);
  double seconds = 0;
  std::thread copier([&] {
    const double once = median_seconds(1, [&] { std::memcpy(dst.data(), src.data(), bytes); });
    const int reps = std::max(3, static_cast<int>(budget / 2 / once));
    seconds = median_seconds(reps, [&] { std::memcpy(dst.data(), src.data(), bytes); });
  });
  copier.join();
  return {latency, bytes / seconds};
}

// plait's attention kernels, forward then backward, at B = 2, T = 128, C = 128 with 4
// heads (head size 32, the demo's): FLOP/s of the products they compute.
double measure_attention(double budget) {
  const int B = 2, T = 128, C = 128, NH = 4;
  const size_t N = size_t(B) * T;
  std::vector<float> qkv(N * 3 * C), out(N * C), att(size_t(B) * NH * T * T), dqkv(qkv.size()),
      datt(att.size()), dout(N * C, 1e-3f);
  for (size_t i = 0; i < qkv.size(); ++i) qkv[i] = static_cast<float>(i % 13) * 0.05f - 0.3f;
  auto pass = [&] {
    kernels::attention_forward(out.data(), att.data(), qkv.data(), B, T, C, NH);
    std::fill(dqkv.begin(), dqkv.end(), 0.0f);
    kernels::attention_backward(dqkv.data(), datt.data(), dout.data(), qkv.data(), att.data(), B,
                                T, C, NH);
  };
  const auto [f, b] = plan::attention_kernel_flops(T, C / NH);
  const double once = median_seconds(1, pass);
  const int reps = std::max(3, static_cast<int>(budget / once));
  return B * NH * (f + b) / median_seconds(reps, pass);
}

// Messages of the threads transport between ranks 0 and 1: one-way latency (half the
// median round trip of 4-byte messages) and the bandwidth of 1 MiB ones. With
// `world` > cores the transport's waits sleep at once (a wake-up per message).
std::pair<double, double> measure_p2p(double budget, int world) {
  comm::ThreadsOptions o;
  o.world = world;
  double latency = 0, bandwidth = 0;
  comm::run_threads(o, [&](comm::Comm& c) {
    if (c.rank() > 1) return;
    comm::Group& g = c.world();
    const int peer = 1 - c.rank();
    auto round_trips = [&](std::vector<std::byte>& buf, int n) {
      std::vector<double> t;
      for (int i = 0; i < n; ++i) {
        const auto t0 = Clock::now();
        if (c.rank() == 0) {
          g.send(peer, 1, buf);
          g.recv(peer, 2, buf);
        } else {
          g.recv(peer, 1, buf);
          g.send(peer, 2, buf);
        }
        t.push_back(seconds_since(t0));
      }
      std::sort(t.begin(), t.end());
      return t[t.size() / 2] / 2;
    };
    std::vector<std::byte> small(4), big(1 << 20);
    const int n = std::clamp(static_cast<int>(budget / 2 / 50e-6), 50, 2000);
    const double lat = round_trips(small, n);
    const double one = round_trips(big, std::clamp(static_cast<int>(budget / 2 / 1e-3), 5, 200));
    if (c.rank() == 0) {
      latency = lat;
      bandwidth = big.size() / std::max(1e-9, one - lat);
    }
  });
  return {latency, bandwidth};
}

// The sgemm rate per thread with k threads running it at once, relative to one
// thread: k threads start together and multiply 512 x 512 x 256 for the same window;
// the rate is the products they finish in it (one BLAS thread each).
std::vector<double> measure_parallel_share(double budget) {
  const int before = blas_threads();
  set_blas_threads(1);
  const double window = std::max(0.3, budget);
  const int M = 512, N = 512, K = 256;
  std::vector<double> rate;
  for (int k : plan::MachineProfile::kParallelThreads) {
    std::atomic<bool> go{false};
    std::vector<long> calls(k, 0);
    std::vector<std::thread> threads;
    for (int i = 0; i < k; ++i)
      threads.emplace_back([&, i] {
        std::vector<float> A(size_t(M) * K, 0.25f), B(size_t(N) * K, 0.5f), C(size_t(M) * N);
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        const auto t0 = Clock::now();
        while (seconds_since(t0) < window) {
          gemm(Op::N, Op::T, M, N, K, 1.0f, A.data(), K, B.data(), K, 0.0f, C.data(), N);
          ++calls[i];
        }
      });
    go.store(true, std::memory_order_release);
    for (auto& t : threads) t.join();
    double sum = 0;
    for (long c : calls) sum += static_cast<double>(c);
    rate.push_back(std::max(0.5, sum) / k);
  }
  set_blas_threads(before);
  for (size_t i = 1; i < rate.size(); ++i) rate[i] /= rate[0];
  rate[0] = 1;
  return rate;
}

}  // namespace

plan::MachineProfile measure_machine(double probe_s) {
  plan::MachineProfile p;
  p.sgemm_flops = measure_sgemm(probe_s);
  p.memory_Bps = measure_memory(probe_s);
  p.gelu_per_s = measure_gelu(probe_s);
  p.link = measure_link(probe_s);
  p.attention_flops = measure_attention(probe_s);
  p.cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const auto [lat, bw] = measure_p2p(probe_s, 2);
  p.p2p = {lat, bw};
  p.p2p_sleep_latency_s = measure_p2p(probe_s / 2, p.cores + 1).first;
  p.parallel_share = measure_parallel_share(probe_s);
  p.memory_bytes = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
  p.source = "measured now";
  return p;
}

}  // namespace plait::cli
