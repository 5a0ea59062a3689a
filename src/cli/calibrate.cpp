#include "cli/calibrate.h"

#include <cblas.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numbers>
#include <thread>
#include <vector>

namespace plait::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Runs `body` (which does `work` units) until `budget` seconds pass; units per second.
template <class F>
double rate(double budget, double work, F&& body) {
  body();  // warm-up: page faults, BLAS buffers
  long long reps = 0;
  const auto t0 = Clock::now();
  do {
    body();
    ++reps;
  } while (seconds_since(t0) < budget);
  return reps * work / seconds_since(t0);
}

// cblas_sgemm on the demo model's c_fc forward: out[N,OC] = inp[N,C] . w[OC,C]^T with
// N = 16 x 128 tokens, C = 256, OC = 1024, one BLAS thread.
double measure_sgemm(double budget) {
  const int N = 2048, C = 256, OC = 1024;
  std::vector<float> inp(static_cast<size_t>(N) * C, 0.5f), w(static_cast<size_t>(OC) * C, 0.25f),
      out(static_cast<size_t>(N) * OC);
  const int before = openblas_get_num_threads();
  openblas_set_num_threads(1);
  const double flops = rate(budget, 2.0 * N * C * OC, [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp.data(), C, w.data(),
                C, 0.0f, out.data(), OC);
  });
  openblas_set_num_threads(before);
  return flops;
}

// out[i] = a[i] + b[i] over 3 x 32 MiB (beyond the caches): bytes read + written per s.
double measure_memory(double budget) {
  const size_t n = 8u << 20;
  std::vector<float> a(n, 1.0f), b(n, 2.0f), out(n);
  return rate(budget, 3.0 * n * sizeof(float), [&] {
    for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
  });
}

// tanh-GELU forward (the kernel's formula) over 1M elements: elements per second.
double measure_gelu(double budget) {
  const size_t n = 1u << 20;
  std::vector<float> x(n), out(n);
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<float>(i % 2001) / 500.0f - 2.0f;
  const float s = std::sqrt(2.0f / std::numbers::pi_v<float>);
  return rate(budget, static_cast<double>(n), [&] {
    for (size_t i = 0; i < n; ++i) {
      const float v = x[i];
      out[i] = 0.5f * v * (1.0f + std::tanh(s * (v + 0.044715f * v * v * v)));
    }
  });
}

// Latency: half a round trip of a flag between two threads (spinning, as a hand-off
// between busy workers). Bandwidth: a thread copies 32 MiB out of the other's buffer.
LinkSpec measure_link(double budget) {
  std::atomic<int> ball{0};
  std::atomic<bool> stop{false};
  std::thread peer([&] {
    int seen = 0;
    while (!stop.load(std::memory_order_acquire)) {
      int v = ball.load(std::memory_order_acquire);
      if (v != seen && v % 2 == 1) {
        seen = v + 1;
        ball.store(seen, std::memory_order_release);
      }
    }
  });
  long long trips = 0;
  auto t0 = Clock::now();
  while (seconds_since(t0) < budget / 2) {
    const int serve = ball.load(std::memory_order_acquire) + 1;
    ball.store(serve, std::memory_order_release);
    while (ball.load(std::memory_order_acquire) != serve + 1) {
    }
    ++trips;
  }
  const double latency = seconds_since(t0) / trips / 2;
  stop.store(true, std::memory_order_release);
  peer.join();

  const size_t bytes = 32u << 20;
  std::vector<char> src(bytes, 1), dst(bytes);
  double bandwidth = 0;
  std::thread copier([&] {
    bandwidth = rate(budget / 2, static_cast<double>(bytes),
                     [&] { std::memcpy(dst.data(), src.data(), bytes); });
  });
  copier.join();
  return {latency, bandwidth};
}

}  // namespace

plan::MachineProfile measure_machine(double probe_s) {
  plan::MachineProfile p;
  p.sgemm_flops = measure_sgemm(probe_s);
  p.memory_Bps = measure_memory(probe_s);
  p.gelu_per_s = measure_gelu(probe_s);
  p.link = measure_link(probe_s);
  p.cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  p.memory_bytes = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
  p.source = "measured now";
  return p;
}

}  // namespace plait::cli
