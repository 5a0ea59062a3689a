// A timeline in the Chrome trace-event JSON format ("traceEvents"), which Perfetto
// (ui.perfetto.dev) and chrome://tracing open:
//
//   {"traceEvents":[
//     {"name":"process_name","ph":"M","pid":0,"tid":0,"args":{"name":"rank 0"}},
//     {"name":"forward","cat":"compute","ph":"X","pid":0,"tid":0,"ts":12.5,"dur":840.25},
//     ...],
//    "displayTimeUnit":"ms","otherData":{"origin_unix_us":1700000000000000}}
//
// Conventions: pid = rank (0 for a single worker), tid = lane: kLaneCompute (forward,
// backward, optimizer) and kLaneComm (each bucket's reduction), so overlap shows as
// two bars side by side. ts and dur are microseconds (fractional) since the trace's
// origin, taken from the steady clock.
//
// Recording: events go to one of kShards buffers chosen by the calling thread, each
// behind its own mutex, so threads (the ranks of the threads transport, their
// communication threads) almost never contend; recording is a clock read and a
// push_back. A disabled Trace records nothing, and TraceScope on it reads no clock.
//
// Several ranks in one process share one Trace and write one file. Under MPI each
// rank records its own Trace and writes rank_trace_path(path, rank)
// ("trace.json" -> "trace.rank3.json"); merge_trace_files() joins them into one
// timeline, shifting each file by its wall-clock origin ("otherData" ->
// "origin_unix_us"): exact on one node (one clock), as good as NTP across nodes.
// `plait` can expose it; from a shell, `jq -s` works as well (without the shift).
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace plait::obs {

inline constexpr int kLaneCompute = 0;
inline constexpr int kLaneComm = 1;

struct TraceEvent {
  std::string name;
  std::string cat;
  char ph = 'X';  // 'X' complete, 'i' instant, 'C' counter, 'M' metadata
  int pid = 0;
  int tid = 0;
  double ts_us = 0;
  double dur_us = 0;    // 'X' only
  nlohmann::json args;  // null: none
};

class Trace {
 public:
  Trace() : Trace(false) {}
  explicit Trace(bool enabled);

  bool enabled() const { return enabled_; }
  // Microseconds since the origin (the steady clock; 0 when disabled).
  double now_us() const;
  // Wall-clock time of the origin, microseconds since the Unix epoch.
  int64_t origin_unix_us() const { return origin_unix_us_; }

  // A complete event: [ts_us, ts_us + dur_us) on lane `tid` of process `pid`.
  void complete(std::string_view name, std::string_view cat, int pid, int tid, double ts_us,
                double dur_us, nlohmann::json args = nullptr);
  // A point in time (thread-scoped instant event).
  void instant(std::string_view name, std::string_view cat, int pid, int tid, double ts_us,
               nlohmann::json args = nullptr);
  // A counter track, e.g. counter("loss", 0, ts, {{"loss", 2.34}}).
  void counter(std::string_view name, int pid, double ts_us, nlohmann::json values);

  // Names shown for a process (rank) and a lane; the last name given wins.
  void name_process(int pid, const std::string& name);
  void name_thread(int pid, int tid, const std::string& name);
  // "rank R" with lanes "compute" and "communication".
  void name_rank(int rank);

  // All events, metadata first, then ordered by (pid, tid, ts). Thread-safe, but
  // events recorded while it runs may or may not be included.
  std::vector<TraceEvent> events() const;
  size_t size() const;

  nlohmann::json to_json() const;
  // Writes the JSON document (does nothing when disabled). Throws UsageError
  // naming the file if it cannot be created, RuntimeError if writing fails.
  void write(const std::string& path) const;

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::mutex mutex;
    std::vector<TraceEvent> events;
  };
  void record(TraceEvent event);

  bool enabled_;
  std::chrono::steady_clock::time_point origin_;
  int64_t origin_unix_us_;
  std::unique_ptr<Shard[]> shards_;  // [kShards], only when enabled
};

// Times its own lifetime as one complete event. Does nothing (no clock read, no
// allocation) when the trace is null or disabled.
//   { TraceScope s(trace, "backward", "compute", rank, kLaneCompute); ... }
class TraceScope {
 public:
  TraceScope(Trace& trace, std::string_view name, std::string_view cat, int pid, int tid)
      : TraceScope(&trace, name, cat, pid, tid) {}
  TraceScope(Trace* trace, std::string_view name, std::string_view cat, int pid, int tid);
  ~TraceScope();
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;

  // Adds {"key": value} to the event's args (ignored when disabled).
  void arg(const std::string& key, nlohmann::json value);

 private:
  Trace* trace_;  // null when disabled
  std::string name_, cat_;
  int pid_, tid_;
  double start_us_ = 0;
  nlohmann::json args_;
};

// "out/trace.json" -> "out/trace.rank3.json"; "trace" -> "trace.rank3".
std::string rank_trace_path(const std::string& path, int rank);

// Joins trace files into one, aligning them by their origin_unix_us (the earliest
// origin becomes 0). Throws UsageError naming a file that is missing or not a trace.
void merge_trace_files(const std::vector<std::string>& inputs, const std::string& output);

}  // namespace plait::obs
