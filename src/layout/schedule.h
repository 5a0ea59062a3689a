// Pipeline schedules as pure functions (the Megatron shape), the one definition the
// trainer runs (parallel/mesh_worker.cpp), the simulator replays (plan/local_run.cpp)
// and the memory model counts (plan/memory_model.cpp): for one stage of a
// pipeline of P stages running M micro-batches per step, the ordered list of its
// forward (F) and backward (B) passes. The trainer walks the list; a forward receives
// its input activations from stage-1 and sends its output to stage+1, a backward
// receives the output gradient from stage+1 and sends the input gradient to stage-1.
//
// GPipe: all forwards, then all backwards: F0 .. F(M-1), B0 .. B(M-1). The backwards
// run in the SAME order as the forwards (B0 first), the classic picture; the last
// stage can start B0 as soon as F(M-1) is done. Every stage holds the activations of
// all M micro-batches at its peak.
//
// 1F1B (PipeDream-flush, Megatron's default): stage s first runs a warm-up of
// w = min(P - s - 1, M) forwards, then alternates one forward and one backward
// (F(w), B0, F(w+1), B1, ...) until all M forwards are done, then the remaining
// backwards (cool-down). A stage holds at most min(P - s, M) micro-batches'
// activations, instead of M.
//
// DRAWN EXAMPLE, P = 4, M = 8, forward and backward one time unit each (".." idle):
//
//   GPipe
//   stage 0 | F0 F1 F2 F3 F4 F5 F6 F7 .. .. .. .. .. .. B0 B1 B2 B3 B4 B5 B6 B7
//   stage 1 | .. F0 F1 F2 F3 F4 F5 F6 F7 .. .. .. .. B0 B1 B2 B3 B4 B5 B6 B7 ..
//   stage 2 | .. .. F0 F1 F2 F3 F4 F5 F6 F7 .. .. B0 B1 B2 B3 B4 B5 B6 B7 .. ..
//   stage 3 | .. .. .. F0 F1 F2 F3 F4 F5 F6 F7 B0 B1 B2 B3 B4 B5 B6 B7 .. .. ..
//
//   1F1B
//   stage 0 | F0 F1 F2 F3 .. .. .. B0 F4 B1 F5 B2 F6 B3 F7 B4 .. B5 .. B6 .. B7
//   stage 1 | .. F0 F1 F2 .. .. B0 F3 B1 F4 B2 F5 B3 F6 B4 F7 B5 .. B6 .. B7 ..
//   stage 2 | .. .. F0 F1 .. B0 F2 B1 F3 B2 F4 B3 F5 B4 F6 B5 F7 B6 .. B7 .. ..
//   stage 3 | .. .. .. F0 B0 F1 B1 F2 B2 F3 B3 F4 B4 F5 B5 F6 B6 F7 B7 .. .. ..
//
// Both take (M + P - 1)(f + b) for forward cost f and backward cost b (any f, b, with
// instant messages), and every stage idles (P - 1)(f + b): the bubble fraction is
// (P - 1) / (M + P - 1) for both schedules. 1F1B saves memory, not time. The
// simulation below checks this, and that neither schedule deadlocks.
#pragma once
#include <string>
#include <vector>

namespace plait {

// Adding a schedule: a value here, its name and warm-up in schedule.cpp (if it is not
// a warm-up / steady / cool-down list, its generator there too). -Werror=switch finds
// the switches that lack it.
enum class PipeSchedule { gpipe, one_f_one_b };
inline constexpr PipeSchedule kSchedules[] = {PipeSchedule::gpipe, PipeSchedule::one_f_one_b};
PipeSchedule parse_schedule(const std::string& name);  // "gpipe" | "1f1b"; UsageError otherwise
const char* to_string(PipeSchedule s);                  // "gpipe" | "1f1b"
std::string schedule_names();  // "gpipe or 1f1b": every schedule, for help texts and messages

struct PipeOp {
  int micro = 0;
  bool forward = true;
  bool operator==(const PipeOp&) const = default;
};

// The ordered operations of `stage` (0-based) of `stages` over `micro_batches`
// micro-batches: each micro-batch's F exactly once, then later its B exactly once.
// UsageError unless stages >= 1, 0 <= stage < stages and micro_batches >= 1.
std::vector<PipeOp> pipeline_schedule(PipeSchedule s, int stage, int stages, int micro_batches);

// The forwards `stage` runs before its first backward: M for GPipe,
// min(P - stage - 1, M) for 1F1B.
int warmup_forwards(PipeSchedule s, int stage, int stages, int micro_batches);

// The most micro-batches whose forward is done and backward not yet, at once, in `ops`
// (the activations a stage must hold): M for GPipe, min(P - stage, M) for 1F1B.
int peak_in_flight(const std::vector<PipeOp>& ops);
// The same from the warm-up alone, without building the list (at least 1).
int peak_in_flight(PipeSchedule s, int stage, int stages, int micro_batches);

// The ideal bubble fraction (P - 1) / (M + P - 1); 0 for one stage.
double ideal_bubble(int stages, int micro_batches);

// A dependency simulation of the whole pipeline, every stage running its
// pipeline_schedule list in order, with forward cost f and backward cost b per
// micro-batch per stage and instant messages. F(s, m) waits for F(s-1, m); B(s, m)
// waits for B(s+1, m) (on the last stage, for its own F(s, m)). Returns the makespan,
// each stage's idle time (makespan - M (f + b)) and bubble = idle / makespan averaged
// over stages. RuntimeError if the schedules deadlock (no stage can proceed).
struct PipeSimulation {
  double makespan = 0;
  std::vector<double> idle;  // per stage
  double bubble = 0;
  std::vector<double> end;   // per stage: when its last op finished
};
PipeSimulation simulate_pipeline(PipeSchedule s, int stages, int micro_batches, double f, double b);

// The same with each stage's own costs f[s], b[s] (stages = f.size() = b.size()), e.g.
// those bench_mesh measured: a heavier stage (the last one carries the head and the
// loss) stretches everyone's idle time. idle[s] = makespan - M (f[s] + b[s]).
// UsageError unless f and b have the same, non-zero size.
PipeSimulation simulate_pipeline(PipeSchedule s, int micro_batches, const std::vector<double>& f,
                                 const std::vector<double>& b);

}  // namespace plait
