#include "plan/search.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <tuple>

#include "plan/units.h"

namespace plait::plan {
namespace {

const std::vector<std::string>& family_names() {
  static const std::vector<std::string> names = {
      "one device",      "data",        "tensor",        "pipeline",
      "tensor+pipeline", "data+tensor", "data+pipeline", "data+tensor+pipeline"};
  return names;
}

std::vector<int> divisors(int n, int limit) {
  std::vector<int> d;
  for (int i = 1; i <= n && i <= limit; ++i)
    if (n % i == 0) d.push_back(i);
  return d;
}

// Tensor-parallel sizes: divide the heads and the key/value heads (and so h and the
// MLP's width), and either fit inside a node evenly or span whole nodes.
std::vector<int> tensor_sizes(const ModelSpec& m, const ClusterSpec& c, int devices) {
  std::vector<int> out;
  for (int t : divisors(m.heads, devices))
    if ((c.devices_per_node % t == 0 || t % c.devices_per_node == 0) &&
        m.kv_heads_count() % t == 0 && m.ffn_dim() % t == 0)
      out.push_back(t);
  return out;
}

// Pipeline depths: those that divide the layers evenly, and those that (uneven stages,
// differing by a block) let tp x pp x dp use every device: pp dividing `room` = N/tp.
std::vector<int> pipeline_sizes(const ModelSpec& m, int room) {
  std::vector<int> out;
  for (int p = 1; p <= std::min(m.layers, room); ++p)
    if (m.layers % p == 0 || room % p == 0) out.push_back(p);
  return out;
}

// Data-parallel degrees: the divisors of the batch, and the most that fit (`room` =
// N/(tp·pp)), whose replicas take ceil(B/dp) or floor(B/dp) sequences.
std::vector<int> data_sizes(const ModelSpec& m, int room) {
  std::vector<int> out = divisors(m.batch, room);
  const int most = std::min(room, m.batch);
  if (out.empty() || out.back() != most) out.push_back(most);
  return out;
}

std::vector<Recompute> recompute_modes(const Framework& fw) {
  std::vector<Recompute> modes;
  if (fw.no_recompute) modes.push_back(Recompute::none);
  if (fw.selective_recompute && !fw.fused_attention) modes.push_back(Recompute::selective);
  modes.push_back(Recompute::full);
  return modes;
}

enum class Reject { none, memory, bubble, link };

Reject judge(const StepCost& s, double usable, const PlanOptions& o) {
  if (s.memory.total() > usable) return Reject::memory;
  if (s.bubble_fraction > o.max_bubble) return Reject::bubble;
  if (s.comm_exposed_s() > o.max_comm_share * s.step_s) return Reject::link;
  return Reject::none;
}

std::string describe(const Layout& l) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "dp%d tp%d pp%d b%d M%d%s%s", l.dp, l.tp, l.pp, l.micro_batch,
                l.micro_batches, l.recompute == Recompute::none ? "" : " recompute ",
                l.recompute == Recompute::none ? "" : to_string(l.recompute));
  return buf;
}

// Tallies of one family while searching.
struct Tally {
  FamilyVerdict v;
  std::optional<Candidate> best_rejected;  // fastest layout that fit but was rejected
  Reject best_rejected_why = Reject::none;
};

struct Search {
  const ModelSpec& m;
  const ClusterSpec& c;
  const PlanOptions& o;
  const Decision& d;
  std::map<std::string, Tally> tallies;
  std::map<std::tuple<int, int, int>, Candidate> best_per_mesh;  // (dp, tp, pp)

  // Keeps the fastest accepted variant (sync method) of `l`, and the fastest per mesh.
  // The decision tree's sync method is kept unless another is more than 1% faster.
  void consider(Layout l) {
    std::optional<Candidate> best, rule;
    const bool dp = l.dp > 1;
    for (SyncAlgorithm sync : kCostedAlgorithms) {
      if (!dp && sync != SyncAlgorithm::ring) continue;
      l.sync = sync;
      const Topology topo = data_topology(c, l);
      l.servers = (topo.world + topo.ranks_per_node - 1) / topo.ranks_per_node;
      Candidate cand{l, step_cost(m, c, l, o.step), 0};
      cand.layout.stages = cand.cost.stages;
      cand.days = days_to_train(cand.cost, o.tokens);
      if (record(cand) != Reject::none) continue;
      if (!best || cand.cost.step_s < best->cost.step_s) best = cand;
      if (sync == d.rule_sync) rule = cand;
    }
    if (rule && rule->cost.step_s <= best->cost.step_s * 1.01) best = rule;
    if (!best) return;
    const auto key = std::tuple(l.dp, l.tp, l.pp);
    auto it = best_per_mesh.find(key);
    if (it == best_per_mesh.end())
      best_per_mesh.emplace(key, *best);
    else if (better(*best, it->second))
      it->second = *best;
  }

  static bool better(const Candidate& a, const Candidate& b) {
    if (a.cost.step_s != b.cost.step_s) return a.cost.step_s < b.cost.step_s;
    return a.cost.memory.total() < b.cost.memory.total();
  }

  Reject record(const Candidate& cand) {
    Tally& t = tallies[family(cand.layout)];
    const double need = cand.cost.memory.total();
    if (t.v.tried++ == 0 || need < t.v.smallest_memory) t.v.smallest_memory = need;
    const Reject why = judge(cand.cost, d.usable_memory, o);
    if (why != Reject::memory) ++t.v.fitting;
    if (why == Reject::none) {
      ++t.v.accepted;
      if (!t.v.best || cand.cost.step_s < t.v.best->cost.step_s) t.v.best = cand;
    } else if (why != Reject::memory &&
               (!t.best_rejected || cand.cost.step_s < t.best_rejected->cost.step_s)) {
      t.best_rejected = cand;
      t.best_rejected_why = why;
    }
    return why;
  }

  void run() {
    const int N = o.devices;
    for (int tp : tensor_sizes(m, c, N))
      for (int pp : pipeline_sizes(m, N / tp))
        for (int dp : data_sizes(m, N / (tp * pp))) {
          const int share = (m.batch + dp - 1) / dp;  // the busiest replica's sequences
          for (int b : o.micro_batch_sizes) {
            if (share % b != 0) continue;
            for (Recompute r : recompute_modes(o.step.framework)) {
              Layout l;
              l.dp = dp, l.tp = tp, l.pp = pp, l.micro_batch = b;
              l.micro_batches = share / b;
              l.recompute = r;
              consider(l);
            }
          }
        }
  }
};

std::string slower_because(const Candidate& best, const Candidate& winner) {
  const StepCost& s = best.cost;
  char ratio[48];
  std::snprintf(ratio, sizeof ratio, "%.2fx the best plan's time", s.step_s / winner.cost.step_s);
  std::string why;
  if (s.bubble_fraction > 0.25)
    why = "bubble too large (" + percent(s.bubble_fraction, 0) + " idle)";
  else if (s.comm_exposed_s() > 0.25 * s.step_s)
    why = "link too slow (" + percent(s.comm_exposed_s() / s.step_s, 0) +
          " of the step waits on communication)";
  else if (best.layout.devices() < winner.layout.devices())
    why = "uses only " + std::to_string(best.layout.devices()) +
          (best.layout.devices() == 1 ? " device" : " devices");
  else
    why = "more compute per device (MFU " + percent(s.mfu, 0) + " vs " +
          percent(winner.cost.mfu, 0) + ")";
  return "slower: " + std::string(ratio) + ", " + why + "; best " + describe(best.layout);
}

std::string rejected_because(const Tally& t, const Decision& d, const PlanOptions& o) {
  if (t.v.tried == 0) {
    if (o.devices == 1) return "not possible on one device";
    return "not possible: no layout of this kind divides the batch, heads or layers on " +
           std::to_string(o.devices) + " devices";
  }
  if (t.v.fitting == 0)
    return "out of memory: the smallest layout needs " + human_bytes(t.v.smallest_memory) +
           " per device, " + human_bytes(d.usable_memory) + " usable";
  const StepCost& s = t.best_rejected->cost;
  if (t.best_rejected_why == Reject::bubble)
    return "bubble too large: the fastest that fits idles " + percent(s.bubble_fraction, 0) + " (" +
           describe(t.best_rejected->layout) + ")";
  return "link too slow: the fastest that fits waits " + percent(s.comm_exposed_s() / s.step_s, 0) +
         " of its step on communication (" + describe(t.best_rejected->layout) + ")";
}

}  // namespace

std::string describe_layout(const Layout& l) { return describe(l); }

double days_to_train(const StepCost& s, double tokens) {
  if (s.tokens <= 0) return 0;
  return tokens / s.tokens * s.step_s / 86400;
}

PlanResult plan(const ModelSpec& m, const ClusterSpec& c, const PlanOptions& o) {
  PlanResult r;
  r.decision = decide(m, c, o);
  Search search{m, c, o, r.decision, {}, {}};
  search.run();
  for (auto& [mesh, cand] : search.best_per_mesh) r.ranked.push_back(cand);
  std::stable_sort(r.ranked.begin(), r.ranked.end(), Search::better);
  for (size_t i = 0; i < r.ranked.size(); ++i)
    if (r.ranked[i].layout.devices() == o.devices) {
      r.best_on_all_devices = i;
      break;
    }
  // The recommendation is the fastest plan that fits; the tree's conclusion is its
  // strategy and sync (the report explains where that departs from the rules).
  if (!r.ranked.empty()) {
    r.recommended = 0;
    const Layout& best = r.ranked.front().layout;
    r.recommended_follows_tree = follows(r.decision.rule_strategy, best);
    r.decision.strategy = strategy_of(best);
    if (best.dp > 1) r.decision.sync = best.sync;
  }
  for (const std::string& name : family_names()) {
    Tally& t = search.tallies[name];
    t.v.family = name;
    if (!t.v.best)
      t.v.verdict = rejected_because(t, r.decision, o);
    else if (r.recommended && family(r.ranked[*r.recommended].layout) == name)
      t.v.verdict = "recommended: " + describe(r.ranked[*r.recommended].layout);
    else
      t.v.verdict = slower_because(*t.v.best, r.ranked.front());
    r.families.push_back(t.v);
  }
  return r;
}

}  // namespace plait::plan
