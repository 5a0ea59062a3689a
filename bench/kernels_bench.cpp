// Kernel speed at the bench model (layers 4, dim 256, heads 4, ctx 128, batch 16) on ONE
// BLAS thread, each kernel beside raw sgemm of the same shapes, in the same run.
//
// Counters
//   GFLOP/s   useful flops / time; attention is counted dense (4*B*T*T*C forward, twice
//             that backward), the MFU convention, although the kernel skips the masked
//             triangle.
//   vs_sgemm  GFLOP/s over the yardstick: the BLAS's own sgemm at N x 4C x C (the shape
//             `plait bench train` uses), median of 21 calls timed in CPU time at start-up
//             like the benchmarks themselves, so time-slicing on a shared machine does not
//             skew the ratio. The context also prints measure_sgemm_gflops (wall clock).
//   GB/s      for the memory-bound kernels: bytes read + written / time.
// block_fwd_bwd runs one whole transformer block forward and backward from the kernels,
// so its vs_sgemm predicts the training step's ratio.
//
//   [PLAIT_GEMM=openblas] [PLAIT_PRECISION=bf16] [PLAIT_BENCH_SHAPE=B,T,C,NH]
//     build/kernels_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tensor/blas.h"
#include "model/adamw.h"
#include "plan/flops.h"
#include "tensor/kernels.h"

namespace {

using namespace plait;
namespace k = plait::kernels;

// The shape: the bench model by default, or PLAIT_BENCH_SHAPE=B,T,C,NH (e.g. the demo's
// per-worker share, 8,128,128,4), read in main() before anything is registered.
int B = 16, T = 128, C = 256, NH = 4, V = 256, N = B * T;

using Buf = std::vector<float>;

// Deterministic values in [-0.5, 0.5): no denormals, no NaNs, no zeros to shortcut.
Buf buf(size_t n, unsigned salt = 1) {
  Buf v(n);
  uint32_t x = 2463534242u + salt;
  for (auto& e : v) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    e = float(x >> 8) * 0x1.0p-24f - 0.5f;
  }
  return v;
}

std::vector<int32_t> tokens(size_t n) {
  std::vector<int32_t> t(n);
  for (size_t i = 0; i < n; i++) t[i] = int32_t((i * 2654435761u) % V);
  return t;
}

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Runs the benchmark loop; returns the CPU seconds it took (the library's own CPU time,
// taken here too so that vs_sgemm can be a plain ratio rather than a rate).
template <class Fn>
double timed(benchmark::State& s, Fn fn) {
  const double t0 = cpu_seconds();
  for (auto _ : s) fn();
  return cpu_seconds() - t0;
}

double yardstick() {
  static const double gflops = [] {
    const int M = N, Nn = 4 * C, K = C;
    Buf a = buf(size_t(M) * K), b = buf(size_t(Nn) * K), c(size_t(M) * Nn);
    std::vector<double> sec;
    for (int r = 0; r < 22; r++) {
      const double t0 = cpu_seconds();
      gemm(Op::N, Op::T, M, Nn, K, 1.0f, a.data(), K, b.data(), K, 0.0f, c.data(), Nn);
      if (r > 0) sec.push_back(cpu_seconds() - t0);  // call 0 warms up
    }
    std::sort(sec.begin(), sec.end());
    return 2.0 * M * Nn * K / sec[sec.size() / 2] * 1e-9;
  }();
  return gflops;
}

void count_flops(benchmark::State& s, double flops, double seconds) {
  const double gflops = flops * double(s.iterations()) / seconds * 1e-9;
  s.counters["GFLOP/s"] = gflops;
  s.counters["vs_sgemm"] = gflops / yardstick();
}

void count_bytes(benchmark::State& s, double floats, double seconds) {
  s.counters["GB/s"] = floats * 4.0 * double(s.iterations()) / seconds * 1e-9;
}

// ---- linear layers: kernel vs raw sgemm of the same shapes -------------------------
struct Linear {
  const char* name;
  int in, out;
};
std::vector<Linear> linears() {
  return {{"qkv", C, 3 * C}, {"attproj", C, C}, {"fc", C, 4 * C}, {"fcproj", 4 * C, C},
          {"lmhead", C, V}};
}

void matmul_fwd(benchmark::State& s, Linear l) {
  Buf out(size_t(N) * l.out), inp = buf(size_t(N) * l.in), w = buf(size_t(l.out) * l.in),
                              b = buf(l.out);
  const double sec = timed(
      s, [&] { k::matmul_forward(out.data(), inp.data(), w.data(), b.data(), N, l.in, l.out); });
  count_flops(s, 2.0 * N * l.in * l.out, sec);
}

void matmul_bwd(benchmark::State& s, Linear l) {
  Buf dinp(size_t(N) * l.in), dw(size_t(l.out) * l.in), db(l.out);
  Buf dout = buf(size_t(N) * l.out), inp = buf(size_t(N) * l.in), w = buf(size_t(l.out) * l.in);
  const double sec = timed(s, [&] {
    k::matmul_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), N,
                       l.in, l.out);
  });
  count_flops(s, 4.0 * N * l.in * l.out, sec);
}

void sgemm_fwd(benchmark::State& s, Linear l) {
  Buf out(size_t(N) * l.out), inp = buf(size_t(N) * l.in), w = buf(size_t(l.out) * l.in);
  const double sec = timed(s, [&] {
    gemm(Op::N, Op::T, N, l.out, l.in, 1.0f, inp.data(), l.in, w.data(), l.in, 0.0f, out.data(),
         l.out);
  });
  count_flops(s, 2.0 * N * l.in * l.out, sec);
}

void sgemm_bwd(benchmark::State& s, Linear l) {
  Buf dinp(size_t(N) * l.in), dw(size_t(l.out) * l.in);
  Buf dout = buf(size_t(N) * l.out), inp = buf(size_t(N) * l.in), w = buf(size_t(l.out) * l.in);
  const double sec = timed(s, [&] {
    gemm(Op::N, Op::N, N, l.in, l.out, 1.0f, dout.data(), l.out, w.data(), l.in, 1.0f, dinp.data(),
         l.in);
    gemm(Op::T, Op::N, l.out, l.in, N, 1.0f, dout.data(), l.out, inp.data(), l.in, 1.0f, dw.data(),
         l.in);
  });
  count_flops(s, 4.0 * N * l.in * l.out, sec);
}

// ---- attention ----------------------------------------------------------------------
double att_fwd_flops() { return 4.0 * B * T * T * C; }  // q.k^T and att.v, dense

void attention_fwd(benchmark::State& s) {
  Buf out(size_t(N) * C), att(size_t(B) * NH * T * T), qkv = buf(size_t(N) * 3 * C);
  const double sec =
      timed(s, [&] { k::attention_forward(out.data(), att.data(), qkv.data(), B, T, C, NH); });
  count_flops(s, att_fwd_flops(), sec);
}

void attention_bwd(benchmark::State& s) {
  Buf out(size_t(N) * C), att(size_t(B) * NH * T * T), qkv = buf(size_t(N) * 3 * C);
  Buf dqkv(qkv.size()), datt(att.size()), dout = buf(out.size(), 2);
  k::attention_forward(out.data(), att.data(), qkv.data(), B, T, C, NH);
  const double sec = timed(s, [&] {
    k::attention_backward(dqkv.data(), datt.data(), dout.data(), qkv.data(), att.data(), B, T, C,
                          NH);
  });
  count_flops(s, 2 * att_fwd_flops(), sec);
}

// The forward's two dense products per (batch, head), as one plain GEMM each.
void sgemm_attention_fwd(benchmark::State& s) {
  const int hs = C / NH, C3 = 3 * C;
  Buf out(size_t(N) * C), att(size_t(B) * NH * T * T), qkv = buf(size_t(N) * 3 * C);
  const double sec = timed(s, [&] {
    for (int b = 0; b < B; b++)
      for (int h = 0; h < NH; h++) {
        const float* q = qkv.data() + size_t(b) * T * C3 + h * hs;
        float* a = att.data() + (size_t(b) * NH + h) * T * T;
        gemm(Op::N, Op::T, T, T, hs, 1.0f, q, C3, q + C, C3, 0.0f, a, T);
        gemm(Op::N, Op::N, T, hs, T, 1.0f, a, T, q + 2 * C, C3, 0.0f,
             out.data() + size_t(b) * T * C + h * hs, C);
      }
  });
  count_flops(s, att_fwd_flops(), sec);
}

// ---- memory-bound kernels -----------------------------------------------------------
void layernorm_fwd(benchmark::State& s) {
  Buf out(size_t(N) * C), mean(N), rstd(N), inp = buf(size_t(N) * C), w = buf(C), b = buf(C);
  const double sec = timed(s, [&] {
    k::layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N,
                         C);
  });
  count_bytes(s, 2.0 * N * C, sec);
}

void layernorm_bwd(benchmark::State& s) {
  Buf out(size_t(N) * C), mean(N), rstd(N), inp = buf(size_t(N) * C), w = buf(C), b = buf(C);
  Buf dinp(inp.size()), dw(C), db(C), dout = buf(out.size(), 2);
  k::layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N, C);
  const double sec = timed(s, [&] {
    k::layernorm_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(),
                          mean.data(), rstd.data(), N, C);
  });
  count_bytes(s, 4.0 * N * C, sec);  // read dout, inp, dinp; write dinp
}

size_t gelu_n() { return size_t(N) * 4 * C; }

void gelu_fwd(benchmark::State& s) {
  Buf out(gelu_n()), inp = buf(gelu_n());
  for (auto& x : inp) x *= 8;
  const double sec = timed(s, [&] { k::gelu_forward(out.data(), inp.data(), gelu_n()); });
  count_bytes(s, 2.0 * gelu_n(), sec);
}

void gelu_bwd(benchmark::State& s) {
  Buf dinp(gelu_n()), inp = buf(gelu_n()), dout = buf(gelu_n(), 2);
  for (auto& x : inp) x *= 8;
  const double sec =
      timed(s, [&] { k::gelu_backward(dinp.data(), inp.data(), dout.data(), gelu_n()); });
  count_bytes(s, 4.0 * gelu_n(), sec);
}

void residual_fwd_bwd(benchmark::State& s) {
  const size_t n = size_t(N) * C;
  Buf out(n), a = buf(n), b = buf(n, 2), da(n), db(n);
  const double sec = timed(s, [&] {
    k::residual_forward(out.data(), a.data(), b.data(), n);
    k::residual_backward(da.data(), db.data(), out.data(), n);
  });
  count_bytes(s, 8.0 * n, sec);
}

void crossentropy_fwd_bwd(benchmark::State& s) {
  Buf probs(size_t(N) * V), losses(N), logits = buf(size_t(N) * V), dlogits(probs.size());
  Buf dlosses(N, 1.0f / N);
  auto targets = tokens(N);
  const double sec = timed(s, [&] {
    k::softmax_crossentropy_forward(probs.data(), losses.data(), logits.data(), targets.data(), N,
                                    V);
    k::softmax_crossentropy_backward(dlogits.data(), probs.data(), targets.data(), dlosses.data(),
                                     N, V);
  });
  count_bytes(s, 5.0 * N * V, sec);
}

void encoder_fwd_bwd(benchmark::State& s) {
  Buf out(size_t(N) * C), wte = buf(size_t(V) * C), wpe = buf(size_t(T) * C);
  Buf dwte(wte.size()), dwpe(wpe.size());
  auto tok = tokens(N);
  const double sec = timed(s, [&] {
    k::encoder_forward(out.data(), tok.data(), wte.data(), wpe.data(), B, T, C);
    k::encoder_backward(dwte.data(), dwpe.data(), out.data(), tok.data(), B, T, C);
  });
  count_bytes(s, 6.0 * N * C, sec);
}

// The memory-bandwidth yardstick for the kernels above: memcpy of their sizes, counted
// like them (bytes read + written).
void memcpy_bytes(benchmark::State& s, size_t floats) {
  Buf a = buf(floats), b(floats);
  const double sec = timed(s, [&] {
    std::memcpy(b.data(), a.data(), floats * sizeof(float));
    benchmark::DoNotOptimize(b.data());
  });
  count_bytes(s, 2.0 * double(floats), sec);
}

// AdamW over the demo model's 3.26 M parameters: reads p, g, m, v (and a decay byte),
// writes p, m, v.
void adamw_step(benchmark::State& s) {
  const size_t n = 3'257'856;
  Buf p = buf(n), g = buf(n, 2);
  AdamW opt({}, n, AdamWConfig{});
  int64_t t = 0;
  const double sec = timed(s, [&] { opt.step(p, g, 1e-3f, ++t); });
  count_bytes(s, 7.25 * double(n), sec);
}

// ---- one transformer block, forward and backward, from the kernels ----------------
struct Block {
  // weights [out,in] and biases, their gradients, activations, scratch
  Buf ln1w = buf(C, 1), ln1b = buf(C, 2), qkvw = buf(3 * C * C, 3), qkvb = buf(3 * C, 4),
      projw = buf(C * C, 5), projb = buf(C, 6), ln2w = buf(C, 7), ln2b = buf(C, 8),
      fcw = buf(4 * C * C, 9), fcb = buf(4 * C, 10), fcpw = buf(4 * C * C, 11), fcpb = buf(C, 12);
  Buf g_ln1w = Buf(C), g_ln1b = Buf(C), g_qkvw = Buf(3 * C * C), g_qkvb = Buf(3 * C),
      g_projw = Buf(C * C), g_projb = Buf(C), g_ln2w = Buf(C), g_ln2b = Buf(C),
      g_fcw = Buf(4 * C * C), g_fcb = Buf(4 * C), g_fcpw = Buf(4 * C * C), g_fcpb = Buf(C);
  size_t NC = size_t(N) * C;
  Buf x = buf(NC, 13), ln1 = Buf(NC), m1 = Buf(N), r1 = Buf(N), qkv = Buf(3 * NC),
      att = Buf(size_t(B) * NH * T * T), atty = Buf(NC), proj = Buf(NC), res2 = Buf(NC),
      ln2 = Buf(NC), m2 = Buf(N), r2 = Buf(N), fch = Buf(4 * NC), fchg = Buf(4 * NC), out = Buf(NC);
  Buf dres = buf(NC, 14), dfchg = Buf(4 * NC), dfch = Buf(4 * NC), dln = Buf(NC), datty = Buf(NC),
      dqkv = Buf(3 * NC), datt = Buf(att.size());

  void forward() {
    k::layernorm_forward(ln1.data(), m1.data(), r1.data(), x.data(), ln1w.data(), ln1b.data(), N,
                         C);
    k::matmul_forward(qkv.data(), ln1.data(), qkvw.data(), qkvb.data(), N, C, 3 * C);
    k::attention_forward(atty.data(), att.data(), qkv.data(), B, T, C, NH);
    k::matmul_forward(proj.data(), atty.data(), projw.data(), projb.data(), N, C, C);
    k::residual_forward(res2.data(), x.data(), proj.data(), NC);
    k::layernorm_forward(ln2.data(), m2.data(), r2.data(), res2.data(), ln2w.data(), ln2b.data(), N,
                         C);
    k::matmul_forward(fch.data(), ln2.data(), fcw.data(), fcb.data(), N, C, 4 * C);
    k::gelu_forward(fchg.data(), fch.data(), 4 * NC);
    k::matmul_forward(proj.data(), fchg.data(), fcpw.data(), fcpb.data(), N, 4 * C, C);
    k::residual_forward(out.data(), res2.data(), proj.data(), NC);
  }
  // As the model does it: gradient scratch is overwritten, dqkv zeroed and accumulated.
  void backward() {
    k::matmul_backward(dfchg.data(), g_fcpw.data(), g_fcpb.data(), dres.data(), fchg.data(),
                       fcpw.data(), N, 4 * C, C, k::Into::overwrite);
    k::gelu_backward(dfch.data(), fch.data(), dfchg.data(), 4 * NC, k::Into::overwrite);
    k::matmul_backward(dln.data(), g_fcw.data(), g_fcb.data(), dfch.data(), ln2.data(), fcw.data(),
                       N, C, 4 * C, k::Into::overwrite);
    k::layernorm_backward(dres.data(), g_ln2w.data(), g_ln2b.data(), dln.data(), res2.data(),
                          ln2w.data(), m2.data(), r2.data(), N, C);
    k::matmul_backward(datty.data(), g_projw.data(), g_projb.data(), dres.data(), atty.data(),
                       projw.data(), N, C, C, k::Into::overwrite);
    zero(dqkv);
    k::attention_backward(dqkv.data(), datt.data(), datty.data(), qkv.data(), att.data(), B, T, C,
                          NH);
    k::matmul_backward(dln.data(), g_qkvw.data(), g_qkvb.data(), dqkv.data(), ln1.data(),
                       qkvw.data(), N, C, 3 * C, k::Into::overwrite);
    k::layernorm_backward(dres.data(), g_ln1w.data(), g_ln1b.data(), dln.data(), x.data(),
                          ln1w.data(), m1.data(), r1.data(), N, C);
  }
  static void zero(Buf& v) { std::fill(v.begin(), v.end(), 0.0f); }
};

void block_fwd_bwd(benchmark::State& s) {
  Block blk;
  const Buf dres0 = blk.dres;
  const double sec = timed(s, [&] {
    blk.forward();
    blk.backward();
    blk.dres = dres0;  // keeps the upstream gradient bounded; ~0.1% of the time
  });
  // the planner's count (plan/flops.h): 3 x one layer's forward, attention included
  plan::ModelSpec m;
  m.layers = 1, m.dim = C, m.heads = NH, m.ctx = T, m.vocab = V, m.batch = B;
  count_flops(s, 3.0 * N * plan::layer_forward_flops_per_token(m), sec);
}

void register_all() {
  using benchmark::RegisterBenchmark;
  for (const Linear& l : linears()) {
    const std::string n = l.name;
    RegisterBenchmark(("matmul_fwd/" + n).c_str(), matmul_fwd, l);
    RegisterBenchmark(("sgemm_fwd/" + n).c_str(), sgemm_fwd, l);
    RegisterBenchmark(("matmul_bwd/" + n).c_str(), matmul_bwd, l);
    RegisterBenchmark(("sgemm_bwd/" + n).c_str(), sgemm_bwd, l);
  }
  RegisterBenchmark("attention_fwd", attention_fwd);
  RegisterBenchmark("sgemm_attention_fwd_dense", sgemm_attention_fwd);
  RegisterBenchmark("attention_bwd", attention_bwd);
  RegisterBenchmark("layernorm_fwd", layernorm_fwd);
  RegisterBenchmark("layernorm_bwd", layernorm_bwd);
  RegisterBenchmark("gelu_fwd", gelu_fwd);
  RegisterBenchmark("gelu_bwd", gelu_bwd);
  RegisterBenchmark("residual_fwd_bwd", residual_fwd_bwd);
  RegisterBenchmark("crossentropy_fwd_bwd", crossentropy_fwd_bwd);
  RegisterBenchmark("encoder_fwd_bwd", encoder_fwd_bwd);
  RegisterBenchmark("adamw_step", adamw_step);
  auto mib = [](size_t floats) { return std::to_string(floats * 4 >> 20) + "MiB"; };
  RegisterBenchmark(("memcpy/" + mib(size_t(N) * C)).c_str(), memcpy_bytes, size_t(N) * C);
  RegisterBenchmark(("memcpy/" + mib(gelu_n())).c_str(), memcpy_bytes, gelu_n());
  RegisterBenchmark("memcpy/13MiB", memcpy_bytes, size_t(3'257'856));
  RegisterBenchmark("block_fwd_bwd", block_fwd_bwd);
}

}  // namespace

int main(int argc, char** argv) {
  set_blas_threads(1);
  // PLAIT_GEMM=onednn|openblas picks the backend (default oneDNN, as in `plait`).
  if (const char* g = std::getenv("PLAIT_GEMM"))
    set_gemm_backend(parse_gemm_backend(g, "PLAIT_GEMM"));
  // PLAIT_PRECISION=bf16: the kernels' products in bf16 (the sgemm_* rows stay fp32 only
  // through measure_sgemm_gflops; the sgemm_* benchmarks call gemm() and follow it).
  if (const char* p = std::getenv("PLAIT_PRECISION"))
    set_gemm_precision(parse_precision(p, "PLAIT_PRECISION"));
  if (const char* sh = std::getenv("PLAIT_BENCH_SHAPE")) {
    if (std::sscanf(sh, "%d,%d,%d,%d", &B, &T, &C, &NH) != 4 || B < 1 || T < 1 || NH < 1 ||
        C < NH || C % NH != 0) {
      std::fprintf(stderr, "kernels_bench: PLAIT_BENCH_SHAPE '%s' is not B,T,C,NH\n", sh);
      return 2;
    }
    N = B * T;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("config", "B=" + std::to_string(B) + " T=" + std::to_string(T) +
                                            " C=" + std::to_string(C) + " NH=" +
                                            std::to_string(NH) + " V=256, 1 BLAS thread");
  benchmark::AddCustomContext("gemm", gemm_kernel(gemm_backend()));
  benchmark::AddCustomContext("precision", precision_name(gemm_precision()));
  benchmark::AddCustomContext("sgemm_gflops_cpu_time", std::to_string(yardstick()));
  benchmark::AddCustomContext("measure_sgemm_gflops",
                              std::to_string(measure_sgemm_gflops(N, 4 * C, C, 21)));
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
