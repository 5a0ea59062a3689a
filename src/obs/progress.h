// The live progress line of long work (training, evaluation, benchmarks):
//
//   step 120/1000 | loss 2.3412 | 14.2k tok/s | ETA 3m12s | val loss 2.4107 | lr 3.00e-04
//
// On a terminal it is one line redrawn in place (carriage return, clear to end of
// line, at most ~10 redraws a second). When the stream is not a terminal (a log
// file, CI) it prints plain lines instead: the first update, then at most one every
// `plain_every_s` seconds (and every `plain_every_steps` steps if set), and the last.
//
// Speed and ETA come from a smoothed step time: the running mean over the first
// 1/smoothing steps, then an exponential moving average with weight `smoothing`, so
// the estimate settles quickly and then follows slow drifts without jitter.
//
// One thread (rank 0) owns a Progress; it is not thread-safe.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace plait::obs {

// 3 significant figures with an SI suffix: 950 -> "950", 14213 -> "14.2k",
// 1.5e6 -> "1.5M", 2.345e9 -> "2.35G", 0.5 -> "0.5"; "-" for NaN or negative.
std::string format_si(double x);

// A duration, coarser as it grows: 7.4 -> "7s", 192 -> "3m12s", 3725 -> "1h02m",
// 183600 -> "2d03h"; "?" for NaN, infinite or negative (not yet known).
std::string format_duration(double seconds);

// "2.3412" (4 decimals), "nan"/"inf" as such.
std::string format_loss(double loss);

// "3.00e-04": learning rates and other small quantities.
std::string format_sci(double x);

struct Field {
  std::string name;   // "val loss"
  std::string value;  // "2.4107"
};

// Everything the line shows; format_progress is a pure function of it.
struct ProgressSnapshot {
  int64_t step = 0;   // steps completed, 1-based
  int64_t total = 0;  // steps in the whole run
  double loss = 0;
  double tokens_per_s = 0;   // NaN: unknown
  double eta_s = 0;          // NaN: unknown
  double elapsed_s = 0;      // shown as "done in ..." once step >= total
  std::vector<Field> extra;  // appended in order
  std::string unit = "tok";  // what tokens_per_s counts
};
std::string format_progress(const ProgressSnapshot& s);

struct ProgressOptions {
  FILE* out = stderr;             // must outlive the Progress (its destructor writes)
  int tty = -1;                   // -1: isatty(out); 0: plain lines; 1: in place
  double plain_every_s = 5.0;     // plain mode: at most one line per this interval
  int64_t plain_every_steps = 0;  // plain mode: also every N steps (0: off)
  double tty_every_s = 0.1;       // in-place mode: redraw throttle
  double smoothing = 0.1;         // EMA weight of the newest step time
  std::string unit = "tok";
};

class Progress {
 public:
  // `first_step`: steps already done before this invocation (a resumed run), so
  // the first update's interval covers only the steps run here.
  explicit Progress(int64_t total_steps, ProgressOptions opt = {}, int64_t first_step = 0);
  ~Progress();  // finish()
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // A field kept on the line until set again (e.g. "val loss" every N steps).
  void set(const std::string& name, const std::string& value);

  // `step` steps are now done (1-based); `tokens` were processed since the last
  // update. May skip steps (called every k steps); steps must not go backwards.
  void update(int64_t step, double loss, int64_t tokens);
  // The same at an explicit time in seconds since construction (tests).
  void update_at(double now_s, int64_t step, double loss, int64_t tokens);

  // Prints a whole line (a log message) without garbling the progress line.
  void message(const std::string& line);
  // Ends the in-place line with a newline (plain mode: prints the last line if it
  // was throttled away). Idempotent.
  void finish();

  ProgressSnapshot snapshot() const;
  std::string line() const { return format_progress(snapshot()); }
  double step_time_s() const { return step_time_; }  // smoothed; NaN before the first update

 private:
  double now_s() const;
  bool due(double now, bool last) const;
  void draw(double now);

  ProgressOptions opt_;
  bool tty_;
  int64_t total_;
  double start_;  // steady clock, seconds
  int64_t step_ = 0, samples_ = 0;
  double loss_ = 0;
  double last_time_ = 0;        // since start_, at the previous update
  double step_time_;            // smoothed seconds per step
  double tokens_per_step_ = 0;  // smoothed
  double last_draw_ = -1e300;
  int64_t last_drawn_step_ = -1;
  bool line_open_ = false;  // in-place line drawn and not yet ended with '\n'
  bool finished_ = false;
  std::vector<Field> extra_;
};

}  // namespace plait::obs
