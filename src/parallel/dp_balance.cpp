#include "parallel/dp_balance.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <numeric>
#include <cstdlib>
#include <span>
#include <string>

#include "balance/split.h"
#include "comm/collectives.h"
#include "obs/progress.h"
#include "parallel/dp_steal.h"
#include "util/cpu_time.h"

namespace plait {
namespace {

constexpr int kFields = 3;  // per rank: compute_s, wait_s, seqs
constexpr int kExchanged = StepExchange::kFields - 1;  // per rank in the exchange's timings
static_assert(kExchanged == kFields + 1, "the exchange's timings: ours, then work_cpu_s");

// The test hook's cost per sequence of `rank` at step `t`: 1..5 s, changing with both.
double fake_cost(int64_t t, int rank) { return 1.0 + static_cast<double>((t * 7 + rank * 3) % 5); }

// "a<sep>b<sep>c" of each value's text.
template <class T, class Text>
std::string join(const std::vector<T>& v, const char* sep, Text text) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) s.append(sep);
    s.append(text(v[i]));
  }
  return s;
}

std::string shares_text(const std::vector<int64_t>& v) {
  return join(v, "/", [](int64_t x) { return std::to_string(x); });
}

std::string speeds_text(const std::vector<double>& v) {
  return join(v, " ", [](double x) { return obs::format_si(x); });
}

}  // namespace

balance::BalanceConfig balance_config(const TrainOptions& opt) {
  balance::BalanceConfig c;
  c.adjust = opt.balance_mode() == BalanceMode::automatic;
  c.every = opt.balance_every;
  c.threshold = opt.balance_threshold;
  return c;
}

BalanceTarget replica_target(Replica& r) {
  BalanceTarget t;
  t.set_share = [&r](int64_t first, int64_t count) { r.set_share(first, count); };
  t.timing = [&r] { return r.timing; };
  t.seqs = [&r] { return r.timing.seqs; };
  t.mode = r.opt.balance_mode();
  if (r.steal) {
    t.set_split = [&r](const std::vector<int64_t>& shares) { r.steal->set_shares(shares); };
    t.set_costs = [&r](const std::vector<double>& costs) { r.steal->set_costs(costs); };
    t.stealing = true;
  }
  t.exchange = r.exchange;
  return t;
}

DpBalance::DpBalance(comm::Group group, BalanceTarget target, std::vector<int64_t> shares,
                     balance::BalanceConfig cfg, int exchange_every)
    : group_(std::move(group)),
      t_(std::move(target)),
      bal_(std::move(shares), cfg),
      exchange_every_(std::max(1, exchange_every)),
      last_(std::chrono::steady_clock::now()) {
  const char* env = std::getenv("PLAIT_TEST_BALANCE_COSTS");
  fake_costs_ = env != nullptr && std::string(env) == "1";
  apply();
}

void DpBalance::apply() {
  const auto& shares = bal_.shares();
  const auto starts = balance::split_starts(shares);
  const int u = unit(group_.rank());
  t_.set_share(starts[u], shares[u]);
  if (t_.set_split) t_.set_split(shares);
  if (t_.set_costs) t_.set_costs(bal_.meter().costs());
}

void DpBalance::restore(const nlohmann::json& extra) {
  if (!extra.is_object() || !extra.contains("balance")) return;
  const auto& b = extra["balance"];
  if (!b.contains("shares") || !b.contains("costs")) return;
  bal_.restore(b["shares"].get<std::vector<int64_t>>(), b["costs"].get<std::vector<double>>());
  apply();
}

nlohmann::json DpBalance::state() const {
  return {{"mode", to_string(t_.mode)},
          {"shares", bal_.shares()},
          {"costs", bal_.meter().costs()}};
}

void DpBalance::after_step(int64_t done, RunOutput* out) {
  // This rank's timing of the step, summed over the window. The first step of an
  // invocation (JIT, page faults, cold caches) takes several times a normal one: not
  // a sample, unless the costs are the test hook's.
  const bool sample = fake_costs_ || warm_;
  if (sample) {
    const double seqs = static_cast<double>(t_.seqs());
    const StepTiming timing = t_.timing();
    acc_[0] += fake_costs_ ? seqs * fake_cost(done - 1, unit(group_.rank())) : timing.compute_s;
    acc_[1] += timing.wait_s;
    acc_[2] += seqs;
  }
  warm_ = true;
  ++acc_steps_;
  if (done % exchange_every_ != 0) return;
  const auto now = std::chrono::steady_clock::now();
  const double step_s = std::chrono::duration<double>(now - last_).count() / acc_steps_;
  last_ = now;
  const double mine[kFields] = {acc_[0], acc_[1], acc_[2]};
  std::fill(std::begin(acc_), std::end(acc_), 0.0);
  acc_steps_ = 0;
  std::vector<double> all(static_cast<size_t>(kFields) * group_.size());
  // The replica's exchange carried every rank's timing of this step already (with its
  // loss sum): the same doubles an allgather of `mine` would give, in one exchange less.
  const bool exchanged = t_.exchange && exchange_every_ == 1 && t_.exchange->calls() != exchanged_;
  if (t_.exchange) exchanged_ = t_.exchange->calls();
  if (exchanged) {
    const std::span<const double> x = t_.exchange->timings();
    for (int i = 0; sample && i < group_.size(); ++i) {
      const double* in = x.data() + static_cast<size_t>(kExchanged) * i;
      double* to = all.data() + static_cast<size_t>(kFields) * i;
      to[0] = fake_costs_ ? in[2] * fake_cost(done - 1, unit(i)) : in[0];
      to[1] = in[1];
      to[2] = in[2];
    }
  } else {
    comm::allgather_bytes(group_, std::as_bytes(std::span<const double>(mine, kFields)),
                          std::as_writable_bytes(std::span<double>(all)));
  }
  // A unit's sample: its slowest rank's compute and waiting, its sequences.
  std::vector<balance::RankSample> samples(bal_.shares().size());
  for (int i = 0; i < group_.size(); ++i) {
    balance::RankSample& u = samples[unit(i)];
    u.compute_s = std::max(u.compute_s, all[kFields * i]);
    u.wait_s = std::max(u.wait_s, all[kFields * i + 1]);
    u.seqs = static_cast<int64_t>(all[kFields * i + 2]);
  }
  const std::vector<int64_t> used = bal_.shares();
  const auto moved = bal_.observe(done, samples);
  if (moved) apply();
  else if (t_.set_costs) t_.set_costs(bal_.meter().costs());
  if (!out) return;
  out->attach("step_s", step_s);
  // the process's CPU seconds so far (all its threads: under threads every rank, under
  // MPI rank 0's process): differences over steps give CPU per step, a far steadier
  // figure of work than wall time on a shared machine (tools/bench_balance.py overhead)
  out->attach("cpu_s", process_cpu_s());
  // every rank's training thread: its CPU so far less what it used waiting for the
  // other ranks (where a waiting thread may spin), as of the step's exchange: the work
  // of computing, measuring, balancing and logging
  if (exchanged) {
    std::vector<double> work;
    for (int i = 0; i < group_.size(); ++i)
      work.push_back(t_.exchange->timings()[static_cast<size_t>(kExchanged) * i + kFields]);
    out->attach("rank_work_cpu_s", work);
  }
  report(samples, used, *out);
  if (t_.mode == BalanceMode::fixed) hint(done, *out);
  if (moved) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "predicted compute %.1f ms -> %.1f ms (%.0f%% faster, threshold %.0f%%)",
                  moved->now_s * 1e3, moved->then_s * 1e3, moved->gain() * 100,
                  bal_.config().threshold * 100);
    out->message("balance: after step " + std::to_string(done) + " shares " +
                  shares_text(used) + " -> " + shares_text(moved->shares) + ": measured speeds " +
                  speeds_text(bal_.meter().speeds()) + " seq/s, " + buf);
    out->event({{"event", "rebalance"}, {"step", done}, {"from", used}, {"to", moved->shares},
                {"speeds", bal_.meter().speeds()}, {"gain", moved->gain()}});
  }
}

// --balance static: once in a run, when the rule would re-split (a rank differs
// measurably), say so; the split itself stays fixed (bit-reproducible runs).
void DpBalance::hint(int64_t done, RunOutput& out) {
  const auto& cfg = bal_.config();
  if (hinted_ || done % cfg.every != 0) return;
  const auto p = balance::propose(bal_.shares(), bal_.meter().costs(), cfg.threshold, cfg.granule);
  if (!p) return;
  hinted_ = true;
  char buf[96];
  std::snprintf(buf, sizeof buf, " (predicted compute %.0f%% faster)", p->gain() * 100);
  out.message("balance: measured speeds " + speeds_text(bal_.meter().speeds()) +
              " seq/s differ; --balance auto would re-split " + shares_text(bal_.shares()) +
              " -> " + shares_text(p->shares) + buf + " (static keeps the split)");
}

// Rank 0's per-rank figures of the step (or window) just done: the metrics line's
// arrays and the progress line's fields.
void DpBalance::report(const std::vector<balance::RankSample>& all,
                       const std::vector<int64_t>& used, RunOutput& out) {
  std::vector<double> compute, wait;
  for (const auto& s : all) {
    compute.push_back(s.compute_s);
    wait.push_back(s.wait_s);
  }
  const std::string waits = join(all, " ", [](const balance::RankSample& s) {
    const double total = s.compute_s + s.wait_s;
    return std::to_string(total > 0 ? static_cast<int>(100 * s.wait_s / total + 0.5) : 0) + "%";
  });
  const auto speeds = bal_.meter().speeds();
  out.attach("rank_speed", speeds);
  out.attach("rank_share", used);
  std::vector<int64_t> ran;
  for (const auto& s : all) ran.push_back(s.seqs);
  // (none in a step that was no sample: the invocation's first)
  if (t_.stealing && std::accumulate(ran.begin(), ran.end(), int64_t{0}) > 0)
    out.attach("rank_run", ran);
  out.attach("rank_compute_s", compute);
  out.attach("rank_wait_s", wait);
  out.show("shares", shares_text(bal_.shares()));
  out.show("seq/s", speeds_text(speeds));
  out.show("wait", waits);
}

}  // namespace plait
