// What a training run shows and writes as it goes: the progress line (stderr), the
// metrics log (JSON lines) and the timeline (Chrome trace). Owned by rank 0.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "fault/heartbeat.h"
#include "fault/monitor.h"
#include "obs/metrics.h"
#include "obs/progress.h"
#include "obs/trace.h"
#include "parallel/train_options.h"

namespace plait {

struct TrainSummary;

class RunOutput {
 public:
  explicit RunOutput(const TrainOptions& opt);
  // A log line (through the progress line so it is not garbled).
  void message(const std::string& line);
  // The run starts at step `first` (0, or where it resumed) and ends at `end`.
  void begin(int64_t first, int64_t end, const std::string& description);
  void step(int64_t step, double loss, float lr, double grad_norm,
            std::optional<double> val_loss);
  void end(const TrainSummary& summary);
  // Any other event for the metrics log (an object with an "event" key).
  void event(const nlohmann::json& object) { metrics_.write(object); }
  // A field of the next step's metrics line (e.g. per-rank speeds), then cleared.
  void attach(const std::string& key, nlohmann::json value) { attached_[key] = std::move(value); }
  // A field kept on the progress line until set again.
  void show(const std::string& name, const std::string& value) {
    if (progress_) progress_->set(name, value);
  }

  // --metrics-port: each logged step goes to `m` too (fault/monitor.h).
  void set_monitor(fault::Monitor* m) { monitor_ = m; }
  // Every rank's newest heartbeat: each metrics line gets the per-rank timing of the
  // newest step each rank has completed ("rank_timing"; none for a rank that has not
  // completed one in this invocation yet: its first line may lack the others).
  void set_ranks(std::function<std::vector<fault::Beat>()> ranks) { ranks_ = std::move(ranks); }

  obs::Trace& trace() { return trace_; }
  double now() const { return trace_.now_us(); }
  // A complete event from `start_us` to now on rank `rank`'s lane.
  void trace_event(const char* name, const char* cat, double start_us, int rank = 0,
                   int lane = obs::kLaneCompute);

 private:
  const TrainOptions& opt_;
  obs::MetricsLog metrics_;
  obs::Trace trace_;
  std::unique_ptr<obs::Progress> progress_;
  int64_t tokens_per_step_ = 0;
  nlohmann::json attached_ = nlohmann::json::object();
  fault::Monitor* monitor_ = nullptr;
  std::function<std::vector<fault::Beat>()> ranks_;
};

}  // namespace plait
