#include "plan/local_run.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <tuple>

#include "layout/mesh_shape.h"
#include "layout/schedule.h"
#include "layout/stages.h"
#include "plan/collective_cost.h"
#include "util/error.h"

namespace plait::plan {
namespace {

constexpr double kFloat = 4;  // bytes: the trainers run fp32

// What a rank's time goes to (LocalPrediction's fields).
enum Part { kForward, kBackward, kTensor, kP2p, kData, kOther, kOptimizer, kParts };

struct Op {
  enum Kind { compute, send, recv, collective } kind = compute;
  Part part = kForward;
  double work = 0;   // compute / recv / collective: seconds on one whole core
  double wall = 0;   // send: time on the wire; collective: latency steps (no CPU)
  double threads = 1;  // compute: threads it keeps busy
  int peer = 0;      // send / recv
  long key = 0;      // send / recv: message key; collective: group id
};

// ---- kernel costs on one core -------------------------------------------------------

struct Rates {
  double gemm, attention, bytes, gelu;  // FLOP/s (gemm: x BLAS threads), B/s, elements/s
};

std::pair<double, double> attention_flops(int T, int hs) {
  constexpr int kBlock = 32;
  double f = 0, b = 0;
  for (int r0 = 0; r0 < T; r0 += kBlock) {
    const double rn = std::min(kBlock, T - r0), r1 = r0 + rn;
    f += 2 * (2 * rn * r1 * hs);  // q.k^T, att.v
    b += 2 * (2 * rn * r1 * hs);  // datt = d.v^T, dq = datt.k
    b += 2 * (2 * rn * hs * (T - r0));  // dk, dv by column blocks
  }
  return {f, b};
}

struct Shape {
  double N, C, Ca, H, heads_local, hs, T, B, V;
};

// Seconds on one core of one block's forward, cut at its two tensor allreduces:
// [0] ln1..c_proj(attn), [1] residual, ln2..c_proj(mlp), [2] the last residual.
std::array<double, 3> block_forward_s(const Shape& s, const Rates& r) {
  const double N = s.N, C = s.C, Ca = s.Ca, H = s.H;
  const auto [af, ab] = attention_flops(static_cast<int>(s.T), static_cast<int>(s.hs));
  (void)ab;
  const double attn = s.B * s.heads_local * af / r.attention;
  const double ln = 12 * N * C, residual = 12 * N * C;
  const double a = (ln + kFloat * N * (3 * Ca + C)) / r.bytes +           // ln1, biases
                   (2 * N * C * 3 * Ca + 2 * N * Ca * C) / r.gemm + attn;  // qkv, c_proj
  const double b = (residual + ln + kFloat * N * (H + C)) / r.bytes +
                   (2 * N * C * H + 2 * N * H * C) / r.gemm + N * H / r.gelu;
  return {a, b, residual / r.bytes};
}

// Backward, cut at its two allreduces: [0] MLP products and GELU, [1] ln2, attention,
// qkv, [2] ln1.
std::array<double, 3> block_backward_s(const Shape& s, const Rates& r) {
  const double N = s.N, C = s.C, Ca = s.Ca, H = s.H;
  const auto [af, ab] = attention_flops(static_cast<int>(s.T), static_cast<int>(s.hs));
  (void)af;
  const double attn = s.B * s.heads_local * ab / r.attention;
  const double ln = 20 * N * C;
  // zero() of the scratch each product accumulates into, then the bias sums
  const double a = kFloat * (2 * N * H + N * C + N * C + N * H) / r.bytes +
                   2 * (2 * N * H * C + 2 * N * C * H) / r.gemm + 2 * N * H / r.gelu;
  const double b = (ln + kFloat * (N * Ca + 3 * N * Ca + N * C + N * C + 3 * N * Ca)) /
                       r.bytes +
                   2 * (2 * N * Ca * C + 2 * N * C * 3 * Ca) / r.gemm + attn;
  return {a, b, ln / r.bytes};
}

// The last stage's ln_f, head (the whole vocabulary: wte is replicated over tp) and
// loss, forward and backward; the first stage's embeddings.
double head_forward_s(const Shape& s, const Rates& r) {
  return (12 * s.N * s.C + 12 * s.N * s.V) / r.bytes + 2 * s.N * s.C * s.V / r.gemm +
         s.N * s.V / r.gelu;  // an exponential per logit
}
double head_backward_s(const Shape& s, const Rates& r) {
  return (20 * s.N * s.C + 16 * s.N * s.V + kFloat * s.N * s.C) / r.bytes +
         4 * s.N * s.C * s.V / r.gemm;
}
double embed_s(const Shape& s, const Rates& r) { return 12 * s.N * s.C / r.bytes; }

// ---- collectives --------------------------------------------------------------------

struct CollectiveSplit {
  double wall = 0, cpu = 0;
};

// The real transport (latency steps wait, bytes are copied and summed by the rank's
// core) plus the emulated links' whole α-β time as waiting.
CollectiveSplit collective_split(SyncAlgorithm method, int world, int per_node, int servers,
                                 double bytes, const LinkSpec& real, double memory_Bps,
                                 const std::optional<LinkSpec>& intra,
                                 const std::optional<LinkSpec>& inter) {
  CollectiveSplit c;
  if (world <= 1 || bytes <= 0) return c;
  Topology t;
  t.world = world;
  t.ranks_per_node = std::clamp(per_node, 1, world);
  while (world % t.ranks_per_node != 0) --t.ranks_per_node;
  t.servers = servers;
  t.intra = t.inter = real;
  const CollectiveCost cost = allreduce_cost(method, t, bytes);
  c.wall = cost.steps * real.latency_s;
  // the copies at the link's bandwidth, the sums (read two, write one) at memory's
  c.cpu = std::max(0.0, cost.seconds - c.wall) + 1.5 * cost.bytes_per_rank / memory_Bps;
  if (intra || inter) {
    t.intra = intra.value_or(LinkSpec{});
    t.inter = inter.value_or(t.intra);
    c.wall += allreduce_cost(method, t, bytes).seconds;
  }
  return c;
}

// ---- the event simulation ----------------------------------------------------------

struct Rank {
  std::vector<Op> ops;
  size_t next = 0;
  enum State { ready, waiting, running, done } state = ready;
  bool arrived = false;      // at the current collective
  double wall_until = 0, cpu_left = 0, threads = 1, began = 0;
  std::array<double, kParts> spent{};
};

struct Engine {
  std::vector<Rank> ranks;
  std::vector<int> group_size;                         // by collective group id
  std::map<std::pair<int, int>, std::vector<int>> arrivals;  // (group, seq) -> ranks
  std::map<std::tuple<int, int, long>, double> posted;       // (src, dst, key) -> arrival
  std::vector<std::vector<int>> seq;                   // [rank][group] collectives begun
  const MachineProfile* profile = nullptr;
  double now = 0, peak_threads = 0;

  int group(int size) {
    group_size.push_back(size);
    return static_cast<int>(group_size.size()) - 1;
  }
  void start(Rank& r, double wall_s, double cpu_s, double threads) {
    r.state = Rank::running;
    r.wall_until = now + wall_s;
    r.cpu_left = cpu_s;
    r.threads = threads;
  }
  // Starts whatever can start; true if anything changed.
  bool begin(int me) {
    Rank& r = ranks[me];
    if (r.state == Rank::running || r.state == Rank::done) return false;
    if (r.next == r.ops.size()) {
      r.state = Rank::done;
      return true;
    }
    const Op& op = r.ops[r.next];
    if (r.state == Rank::ready) r.began = now;
    switch (op.kind) {
      case Op::compute:
        start(r, 0, op.work, op.threads);
        return true;
      case Op::send:
        posted[{me, op.peer, op.key}] = now + op.wall;
        r.next++;
        r.state = Rank::ready;
        return true;
      case Op::recv: {
        auto it = posted.find({op.peer, me, op.key});
        if (it == posted.end()) {
          const bool changed = r.state != Rank::waiting;
          r.state = Rank::waiting;
          return changed;
        }
        start(r, std::max(0.0, it->second - now), op.work, 1);
        posted.erase(it);
        return true;
      }
      case Op::collective: {
        const int g = static_cast<int>(op.key);
        if (!r.arrived) {
          r.arrived = true;
          auto& who = arrivals[{g, seq[me][g]}];
          who.push_back(me);
          if (static_cast<int>(who.size()) == group_size[g]) {
            for (int m : who) {
              Rank& o = ranks[m];
              const Op& mine = o.ops[o.next];
              o.arrived = false;
              seq[m][g]++;
              start(o, mine.wall, mine.work, 1);
            }
            arrivals.erase({g, seq[me][g] - 1});
            return true;
          }
          r.state = Rank::waiting;
          return true;
        }
        return false;
      }
    }
    return false;
  }
  void finish(Rank& r) {
    const Op& op = r.ops[r.next];
    r.spent[op.part] += now - r.began;
    r.next++;
    r.state = Rank::ready;
  }
  void run() {
    seq.assign(ranks.size(), std::vector<int>(group_size.size(), 0));
    for (;;) {
      bool changed = true;
      while (changed) {
        changed = false;
        for (size_t i = 0; i < ranks.size(); ++i) changed |= begin(static_cast<int>(i));
      }
      double threads = 0;
      bool any = false, all_done = true;
      for (const Rank& r : ranks) {
        if (r.state != Rank::done) all_done = false;
        if (r.state == Rank::running && r.wall_until <= now && r.cpu_left > 0)
          threads += r.threads;
      }
      if (all_done) return;
      peak_threads = std::max(peak_threads, threads);
      const double rate = profile->thread_share(threads);
      double dt = std::numeric_limits<double>::infinity();
      for (const Rank& r : ranks) {
        if (r.state != Rank::running) continue;
        any = true;
        if (r.wall_until > now) dt = std::min(dt, r.wall_until - now);
        else dt = std::min(dt, r.cpu_left / rate);
      }
      if (!any) throw RuntimeError("plait simulate: the modelled step deadlocks (a bug)");
      for (Rank& r : ranks)
        if (r.state == Rank::running && r.wall_until <= now) r.cpu_left -= rate * dt;
      now += dt;
      for (Rank& r : ranks)
        if (r.state == Rank::running && r.wall_until <= now * (1 + 1e-12) &&
            r.cpu_left <= 1e-12 * std::max(1.0, now))
          finish(r);
    }
  }
};

void need(bool ok, const std::string& message) {
  if (!ok) throw UsageError(message);
}

}  // namespace

std::pair<double, double> attention_kernel_flops(int T, int hs) { return attention_flops(T, hs); }

LocalPrediction predict_local(const LocalRun& run, const MachineProfile& p) {
  const ModelSpec& m = run.model;
  const Layout& l = run.layout;
  const int D = l.dp, T = l.tp, P = l.pp, world = D * T * P + run.servers;
  const int blas = std::max(1, run.blas_threads);
  const bool spinning = world <= p.cores;  // comm/threads_transport.cpp: spin, else sleep
  LinkSpec link = p.p2p_link();
  link.latency_s = p.p2p_latency(spinning);
  // Gemm rate per worker: its BLAS threads split the product (a per-core rate; the
  // sharing of cores is applied by the simulation).
  const Rates rates{p.sgemm_flops * blas, p.attention_rate(), p.memory_Bps, p.gelu_per_s};
  const double worker_threads = blas;

  check_stages(run.stages, P, m.layers);
  const std::vector<int> stages = stage_sizes(run.stages, m.layers, P);

  Engine e;
  e.profile = &p;
  e.ranks.resize(world);
  const int node = run.ranks_per_node > 0 ? run.ranks_per_node : world;
  const double C = m.dim, V = m.vocab;
  auto shape_of = [&](int b) {
    return Shape{static_cast<double>(b) * m.ctx, C, C / T, 4 * C / T,
                 static_cast<double>(m.heads / T), C / m.heads, static_cast<double>(m.ctx),
                 static_cast<double>(b), V};
  };
  // The share of a worker's compute that is matrix products keeps its BLAS threads
  // busy; the rest runs on the worker's thread alone. A compute op's thread demand is
  // the time-weighted mean (`gemm_share` of its time on `blas` threads).
  Rates no_gemm = rates;
  no_gemm.gemm = std::numeric_limits<double>::infinity();
  auto compute = [&](int rank, Part part, double s, double gemm_share = 0) {
    if ((part == kForward || part == kBackward) && static_cast<size_t>(rank) < run.slowdown.size())
      s *= run.slowdown[static_cast<size_t>(rank)];  // --slowdown (the trainer sleeps)
    if (s > 0)
      e.ranks[rank].ops.push_back(
          {Op::compute, part, s, 0, 1 + (worker_threads - 1) * gemm_share});
  };
  // gemm share of a segment computed by f(rates)
  auto gemm_share = [&](double with, double without) {
    return with > 0 ? std::clamp((with - without) / with, 0.0, 1.0) : 0.0;
  };
  auto coll = [&](int rank, Part part, int g, const CollectiveSplit& c) {
    e.ranks[rank].ops.push_back({Op::collective, part, c.cpu, c.wall, 1, 0, g});
  };
  const CollectiveSplit scalar{
      world > 1 ? 2 * std::ceil(std::log2(world)) * link.latency_s : 0, 0};
  // parameters of a stage's rank (model/shard_table.cpp: blocks split by tp, embeddings
  // and layer norms replicated; the tied wte on the first and the last stage)
  auto rank_params = [&](int stage) {
    double n = stages[stage] * ((12 * C * C + 9 * C) / T + 4 * C);
    if (stage == 0) n += V * C + m.ctx * C;
    if (stage == P - 1) n += 2 * C + (P > 1 ? V * C : 0);
    return n;
  };
  auto optimizer = [&](double params) { return 52 * params / p.memory_Bps; };
  LocalPrediction out;

  if (!run.mesh()) {
    // ---- data-parallel trainer (or parameter servers): whole replicas -------------
    const int W = D;
    const double params = m.params();
    const int g = e.group(W), gw = e.group(world);
    std::vector<int64_t> shares(W, m.batch / W);
    for (int r = 0; r < m.batch % W; ++r) ++shares[r];
    const CollectiveSplit sync =
        run.servers > 0
            ? collective_split(SyncAlgorithm::ps, W, W, run.servers, params * kFloat, link,
                               p.memory_Bps, run.intra, run.inter)
            : collective_split(l.sync, W, node, l.servers, params * kFloat, link, p.memory_Bps,
                               run.intra, run.inter);
    for (int r = 0; r < W; ++r) {
      compute(r, kOptimizer, 4 * params / p.memory_Bps);  // zero grads
      const int64_t mb = run.micro_batch > 0 ? run.micro_batch : shares[r];
      for (int64_t done = 0; done < shares[r]; done += mb) {
        const Shape s = shape_of(static_cast<int>(std::min(mb, shares[r] - done)));
        double f = embed_s(s, rates) + head_forward_s(s, rates);
        double b = embed_s(s, rates) + head_backward_s(s, rates);
        double f0 = embed_s(s, no_gemm) + head_forward_s(s, no_gemm);
        double b0 = embed_s(s, no_gemm) + head_backward_s(s, no_gemm);
        const auto bf = block_forward_s(s, rates), bf0 = block_forward_s(s, no_gemm);
        const auto bb = block_backward_s(s, rates), bb0 = block_backward_s(s, no_gemm);
        f += m.layers * (bf[0] + bf[1] + bf[2]);
        b += m.layers * (bb[0] + bb[1] + bb[2]);
        f0 += m.layers * (bf0[0] + bf0[1] + bf0[2]);
        b0 += m.layers * (bb0[0] + bb0[1] + bb0[2]);
        compute(r, kForward, f, gemm_share(f, f0));
        compute(r, kBackward, b, gemm_share(b, b0));
      }
      if (W > 1) coll(r, kData, g, sync);
      coll(r, kOther, gw, scalar);  // the loss sum
      // parameter servers run AdamW on their shards while the workers wait
      compute(r, kOptimizer, optimizer(run.servers > 0 ? params / run.servers : params));
    }
    for (int s = 0; s < run.servers; ++s) coll(W + s, kOther, gw, scalar);
    if (W > 1 && !(run.servers > 0))
      out.notes.push_back("the gradient allreduce is charged after the backward pass: its "
                          "overlap with it on a communication thread is not modelled");
  } else {
    // ---- mesh trainer: dp x tp x pp --------------------------------------------
    need(run.servers == 0, "--servers cannot be combined with --tp/--pp");
    const MeshShape mesh{D, T, P};
    auto rank_of = [&](int d, int t, int s) { return mesh_rank(mesh, {d, t, s}); };
    const int share = m.batch / D;
    const int M = l.micro_batches;
    const int mb = (share + M - 1) / M;
    auto micro_size = [&](int micro) { return std::min(mb, share - micro * mb); };
    const int gw = e.group(world);
    std::vector<int> tp_group(D * P), dp_group(T * P), embed_group(D * T), mp_group(D);
    for (int& g : tp_group) g = e.group(T);
    for (int& g : dp_group) g = e.group(D);
    for (int& g : embed_group) g = e.group(2);
    for (int& g : mp_group) g = e.group(T * P);
    // the tensor group's ranks are adjacent: inside a node unless nodes are smaller
    const int tp_per_node = std::min(T, node);
    for (int d = 0; d < D; ++d)
      for (int s = 0; s < P; ++s)
        for (int t = 0; t < T; ++t) {
          const int me = rank_of(d, t, s);
          const bool first = s == 0, last = s == P - 1;
          const int tg = tp_group[d + D * s];
          for (int i = 0; i < M; ++i)
            if (micro_size(i) <= 0)
              throw UsageError("--micro-batches " + std::to_string(M) + " leaves micro-batch " +
                               std::to_string(i) + " empty");
          compute(me, kOptimizer, 4 * rank_params(s) / p.memory_Bps);  // zero grads
          // the trainer's pipeline schedule
          for (const auto& [micro, fwd] : pipeline_schedule(l.schedule, s, P, M)) {
            const Shape sh = shape_of(micro_size(micro));
            const double msg = sh.N * C * kFloat;
            const CollectiveSplit tar = collective_split(
                SyncAlgorithm::ring, T, tp_per_node, 1, msg, link, p.memory_Bps, run.intra,
                run.intra);
            const LinkSpec emul = (D * T < node ? run.intra : run.inter).value_or(LinkSpec{});
            const long key = 2L * micro + (fwd ? 0 : 1);
            const double copy = msg / link.bandwidth_Bps;
            // forward: from stage s-1, the blocks in order, on to s+1 (the head last);
            // backward: from s+1, the blocks in reverse, on to s-1 (the embedding last,
            // else a copy of d(x)). Each block: two products closed in the tensor group.
            const Part kind = fwd ? kForward : kBackward;
            const bool gets = fwd ? !first : !last, gives = fwd ? !last : !first;
            if (gets)
              e.ranks[me].ops.push_back(
                  {Op::recv, kP2p, copy, 0, 1, rank_of(d, t, fwd ? s - 1 : s + 1), key});
            const auto blk = fwd ? block_forward_s(sh, rates) : block_backward_s(sh, rates);
            double pre = fwd ? (first ? embed_s(sh, rates) : 0)
                             : (last ? head_backward_s(sh, rates) : 0);
            for (int b = 0; b < stages[s]; ++b) {
              compute(me, kind, pre + blk[0]);
              if (T > 1) coll(me, kTensor, tg, tar);
              compute(me, kind, blk[1]);
              if (T > 1) coll(me, kTensor, tg, tar);
              pre = blk[2];
            }
            const double tail = fwd ? (last ? head_forward_s(sh, rates) : 0)
                                    : (first ? embed_s(sh, rates) : msg / p.memory_Bps);
            compute(me, kind, pre + tail);
            if (gives)
              e.ranks[me].ops.push_back({Op::send, kP2p, 0, link.latency_s + emul.seconds(msg), 1,
                                         rank_of(d, t, fwd ? s + 1 : s - 1), key});
          }
          if (P > 1 && (first || last))
            coll(me, kOther, embed_group[d * T + t],
                 collective_split(SyncAlgorithm::ring, 2, node >= D * T * P ? 2 : 1, 1,
                                  V * C * kFloat, link, p.memory_Bps, run.intra, run.inter));
          if (D > 1) {
            const int per_node = std::clamp(node / T, 1, D);
            coll(me, kData, dp_group[t + T * s],
                 collective_split(l.sync, D, per_node, l.servers, rank_params(s) * kFloat, link,
                                  p.memory_Bps, run.intra, run.inter));
          }
          coll(me, kOther, gw, scalar);                         // the loss sum
          if (T * P > 1) coll(me, kOther, mp_group[d], scalar);  // the gradient norm
          compute(me, kOptimizer, optimizer(rank_params(s)) - 4 * rank_params(s) / p.memory_Bps);
        }
  }

  e.run();
  const Rank& r0 = e.ranks[0];
  out.step_s = e.now;
  out.compute_s = r0.spent[kForward] + r0.spent[kBackward];
  out.tensor_comm_s = r0.spent[kTensor];
  out.p2p_s = r0.spent[kP2p];
  out.dp_comm_s = r0.spent[kData];
  out.other_comm_s = r0.spent[kOther];
  out.optimizer_s = r0.spent[kOptimizer];
  out.pipeline_s = r0.spent[kForward] + r0.spent[kBackward] + r0.spent[kTensor] + r0.spent[kP2p];
  // bubble: the share of each stage's schedule spent waiting for a neighbour
  if (P > 1) {
    double sum = 0;
    for (int s = 0; s < P; ++s) {
      const Rank& r = e.ranks[s * D * T];
      const double sched =
          r.spent[kForward] + r.spent[kBackward] + r.spent[kTensor] + r.spent[kP2p];
      sum += sched > 0 ? r.spent[kP2p] / sched : 0;
    }
    out.bubble_fraction = sum / P;
  }
  // one micro-batch alone on a core, on the slowest stage
  const int b0 = run.mesh() ? (m.batch / D + l.micro_batches - 1) / l.micro_batches
                            : (run.micro_batch > 0 ? run.micro_batch
                                                   : (m.batch + D - 1) / D);
  const Shape sh = shape_of(b0);
  const auto bf = block_forward_s(sh, rates);
  const auto bb = block_backward_s(sh, rates);
  for (int s = 0; s < P; ++s) {
    const int blocks = run.mesh() ? stages[s] : m.layers;
    double f = blocks * (bf[0] + bf[1] + bf[2]), b = blocks * (bb[0] + bb[1] + bb[2]);
    if (s == 0) f += embed_s(sh, rates), b += embed_s(sh, rates);
    if (s == P - 1) f += head_forward_s(sh, rates), b += head_backward_s(sh, rates);
    if (f + b > out.forward_s + out.backward_s) out.forward_s = f, out.backward_s = b;
  }
  out.peak_threads = e.peak_threads;
  out.peak_share = p.thread_share(e.peak_threads);
  return out;
}

}  // namespace plait::plan
