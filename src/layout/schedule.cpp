#include "layout/schedule.h"

#include <algorithm>
#include <cstddef>
#include <numeric>

#include "util/error.h"

namespace plait {

PipeSchedule parse_schedule(const std::string& name) {
  for (PipeSchedule s : kSchedules)
    if (name == to_string(s)) return s;
  throw UsageError("unknown pipeline schedule '" + name + "' (expected " + schedule_names() + ")");
}

std::string schedule_names() {
  std::string out;
  for (PipeSchedule s : kSchedules) out += (out.empty() ? "" : " or ") + std::string(to_string(s));
  return out;
}

const char* to_string(PipeSchedule s) {
  switch (s) {
    case PipeSchedule::gpipe:
      return "gpipe";
    case PipeSchedule::one_f_one_b:
      return "1f1b";
  }
  return "?";
}

int warmup_forwards(PipeSchedule s, int stage, int stages, int micro_batches) {
  switch (s) {
    case PipeSchedule::gpipe:  // GPipe is 1F1B with a warm-up of every forward
      return micro_batches;
    case PipeSchedule::one_f_one_b:
      return std::min(stages - stage - 1, micro_batches);
  }
  return micro_batches;
}

namespace {

void check_pipeline(int stages, int micro_batches) {
  if (stages < 1 || micro_batches < 1)
    throw UsageError("pipeline of " + std::to_string(stages) + " stages and " +
                     std::to_string(micro_batches) + " micro-batches: both must be >= 1");
}

}  // namespace

std::vector<PipeOp> pipeline_schedule(PipeSchedule s, int stage, int stages, int micro_batches) {
  check_pipeline(stages, micro_batches);
  if (stage < 0 || stage >= stages)
    throw UsageError("pipeline stage " + std::to_string(stage) + " outside 0.." +
                     std::to_string(stages - 1));
  const int m = micro_batches;
  const int warmup = warmup_forwards(s, stage, stages, m);
  std::vector<PipeOp> ops;
  ops.reserve(2 * static_cast<std::size_t>(m));
  for (int i = 0; i < warmup; ++i) ops.push_back({i, true});
  for (int i = 0; i < m - warmup; ++i) {  // steady state: one forward, one backward
    ops.push_back({warmup + i, true});
    ops.push_back({i, false});
  }
  for (int i = m - warmup; i < m; ++i) ops.push_back({i, false});  // cool-down
  return ops;
}

int peak_in_flight(const std::vector<PipeOp>& ops) {
  int now = 0, peak = 0;
  for (const PipeOp& op : ops) {
    now += op.forward ? 1 : -1;
    peak = std::max(peak, now);
  }
  return peak;
}

// The peak is reached by the warm-up's forwards plus the first steady-state forward.
int peak_in_flight(PipeSchedule s, int stage, int stages, int micro_batches) {
  const int warmup = warmup_forwards(s, stage, stages, micro_batches);
  return std::max(1, std::min(warmup + 1, micro_batches));
}

double ideal_bubble(int stages, int micro_batches) {
  if (stages <= 1) return 0;
  check_pipeline(stages, micro_batches);
  return static_cast<double>(stages - 1) / (micro_batches + stages - 1);
}

namespace {

// The simulation's state: each stage's next op, when it is free, and when each
// (stage, micro-batch) pass finished (< 0: not yet).
struct SimState {
  std::vector<std::vector<PipeOp>> ops;
  std::vector<std::size_t> next;
  std::vector<double> free;
  std::vector<std::vector<double>> f_done, b_done;
};

// The time op's input is ready on `stage`, or < 0 if not yet.
double ready_at(const SimState& st, int stage, const PipeOp& op) {
  const int last = static_cast<int>(st.ops.size()) - 1;
  if (op.forward) return stage == 0 ? 0.0 : st.f_done[stage - 1][op.micro];
  return stage == last ? st.f_done[stage][op.micro] : st.b_done[stage + 1][op.micro];
}

// Runs `stage`'s ops while their inputs are ready; returns whether any ran.
bool advance(SimState& st, int stage, const std::vector<double>& f, const std::vector<double>& b) {
  bool ran = false;
  while (st.next[stage] < st.ops[stage].size()) {
    const PipeOp& op = st.ops[stage][st.next[stage]];
    const double ready = ready_at(st, stage, op);
    if (ready < 0) break;
    st.free[stage] = std::max(st.free[stage], ready) + (op.forward ? f[stage] : b[stage]);
    (op.forward ? st.f_done : st.b_done)[stage][op.micro] = st.free[stage];
    ++st.next[stage];
    ran = true;
  }
  return ran;
}

bool finished(const SimState& st) {
  for (std::size_t s = 0; s < st.ops.size(); ++s)
    if (st.next[s] < st.ops[s].size()) return false;
  return true;
}

}  // namespace

PipeSimulation simulate_pipeline(PipeSchedule s, int stages, int micro_batches, double f,
                                 double b) {
  check_pipeline(stages, micro_batches);
  return simulate_pipeline(s, micro_batches, std::vector<double>(stages, f),
                           std::vector<double>(stages, b));
}

PipeSimulation simulate_pipeline(PipeSchedule s, int micro_batches, const std::vector<double>& f,
                                 const std::vector<double>& b) {
  if (f.empty() || f.size() != b.size())
    throw UsageError("simulate_pipeline: " + std::to_string(f.size()) + " forward costs and " +
                     std::to_string(b.size()) + " backward costs (one of each per stage)");
  const int stages = static_cast<int>(f.size());
  check_pipeline(stages, micro_batches);
  SimState st;
  for (int p = 0; p < stages; ++p) st.ops.push_back(pipeline_schedule(s, p, stages, micro_batches));
  st.next.assign(stages, 0);
  st.free.assign(stages, 0.0);
  st.f_done.assign(stages, std::vector<double>(micro_batches, -1.0));
  st.b_done = st.f_done;
  // Start times depend only on dependencies, not on the order stages are visited.
  while (!finished(st)) {
    bool progress = false;
    for (int p = 0; p < stages; ++p) progress = advance(st, p, f, b) || progress;
    if (!progress)
      throw RuntimeError(std::string("pipeline schedule ") + to_string(s) + " deadlocks with " +
                         std::to_string(stages) + " stages and " +
                         std::to_string(micro_batches) + " micro-batches");
  }
  PipeSimulation out;
  out.makespan = *std::max_element(st.free.begin(), st.free.end());
  out.end = st.free;
  for (int p = 0; p < stages; ++p) out.idle.push_back(out.makespan - micro_batches * (f[p] + b[p]));
  out.bubble = out.makespan > 0
                   ? std::accumulate(out.idle.begin(), out.idle.end(), 0.0) / stages / out.makespan
                   : 0.0;
  return out;
}

}  // namespace plait
