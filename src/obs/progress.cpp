#include "obs/progress.h"

#include <unistd.h>

#include <chrono>
#include <cmath>

namespace plait::obs {
namespace {

std::string printf_string(const char* fmt, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, x);
  return buf;
}

// Rounds to 3 significant figures (so the suffix is chosen after rounding).
double round3(double x) {
  if (x == 0) return 0;
  double scale = std::pow(10.0, 2 - std::floor(std::log10(x)));
  return std::round(x * scale) / scale;
}

double steady_seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string format_si(double x) {
  if (!(x >= 0) || std::isinf(x)) return "-";
  static const char* suffix[] = {"", "k", "M", "G", "T", "P"};
  double r = round3(x);
  int i = 0;
  while (r >= 1000 && i < 5) r /= 1000, ++i;
  return printf_string("%.3g", r) + suffix[i];
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || std::isinf(seconds)) return "?";
  char buf[64];
  auto s = static_cast<int64_t>(std::llround(seconds));
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else if (int64_t m = std::llround(seconds / 60); m < 24 * 60) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(m / 60),
                  static_cast<long long>(m % 60));
  } else {
    int64_t h = std::llround(seconds / 3600);
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(h / 24),
                  static_cast<long long>(h % 24));
  }
  return buf;
}

std::string format_loss(double loss) {
  if (std::isnan(loss)) return "nan";
  if (std::isinf(loss)) return loss > 0 ? "inf" : "-inf";
  return printf_string("%.4f", loss);
}

std::string format_sci(double x) { return printf_string("%.2e", x); }

std::string format_progress(const ProgressSnapshot& s) {
  std::string line = "step " + std::to_string(s.step) + "/" + std::to_string(s.total) + " | loss " +
                     format_loss(s.loss) + " | " + format_si(s.tokens_per_s) + " " + s.unit +
                     "/s | ";
  line += s.step >= s.total ? "done in " + format_duration(s.elapsed_s)
                            : "ETA " + format_duration(s.eta_s);
  for (const auto& f : s.extra) line += " | " + f.name + " " + f.value;
  return line;
}

Progress::Progress(int64_t total_steps, ProgressOptions opt, int64_t first_step)
    : opt_(std::move(opt)),
      tty_(opt_.tty < 0 ? isatty(fileno(opt_.out)) != 0 : opt_.tty != 0),
      total_(total_steps),
      start_(steady_seconds()),
      step_(first_step),
      step_time_(std::nan("")) {}

Progress::~Progress() { finish(); }

double Progress::now_s() const { return steady_seconds() - start_; }

void Progress::set(const std::string& name, const std::string& value) {
  for (auto& f : extra_)
    if (f.name == name) {
      f.value = value;
      return;
    }
  extra_.push_back({name, value});
}

void Progress::update(int64_t step, double loss, int64_t tokens) {
  update_at(now_s(), step, loss, tokens);
}

void Progress::update_at(double now, int64_t step, double loss, int64_t tokens) {
  const int64_t steps = step - step_;
  if (steps > 0) {
    const double dt = (now - last_time_) / static_cast<double>(steps);
    const double per_step = static_cast<double>(tokens) / static_cast<double>(steps);
    ++samples_;
    // Running mean while samples_ < 1/smoothing, then the EMA.
    const double w = std::max(opt_.smoothing, 1.0 / static_cast<double>(samples_));
    step_time_ = samples_ == 1 ? dt : (1 - w) * step_time_ + w * dt;
    tokens_per_step_ = samples_ == 1 ? per_step : (1 - w) * tokens_per_step_ + w * per_step;
    last_time_ = now;
  }
  step_ = step;
  loss_ = loss;
  const bool last = step >= total_;
  if (due(now, last)) draw(now);
}

bool Progress::due(double now, bool last) const {
  if (finished_) return false;
  if (tty_) return last || now - last_draw_ >= opt_.tty_every_s;
  if (last || last_drawn_step_ < 0) return true;
  if (opt_.plain_every_steps > 0 && step_ % opt_.plain_every_steps == 0) return true;
  return now - last_draw_ >= opt_.plain_every_s;
}

void Progress::draw(double now) {
  std::string line = this->line();
  if (tty_) {
    std::fprintf(opt_.out, "\r%s\x1b[K", line.c_str());
    line_open_ = true;
  } else {
    std::fprintf(opt_.out, "%s\n", line.c_str());
  }
  std::fflush(opt_.out);
  last_draw_ = now;
  last_drawn_step_ = step_;
}

void Progress::message(const std::string& text) {
  if (line_open_) std::fprintf(opt_.out, "\r\x1b[K");
  std::fprintf(opt_.out, "%s\n", text.c_str());
  if (line_open_) std::fprintf(opt_.out, "%s", line().c_str());  // redraw below it
  std::fflush(opt_.out);
}

void Progress::finish() {
  if (finished_) return;
  if (!tty_ && last_drawn_step_ >= 0 && last_drawn_step_ != step_) draw(now_s());
  if (tty_ && line_open_) draw(now_s());  // the final values, then end the line
  if (line_open_) std::fprintf(opt_.out, "\n");
  std::fflush(opt_.out);
  line_open_ = false;
  finished_ = true;
}

ProgressSnapshot Progress::snapshot() const {
  ProgressSnapshot s;
  s.step = step_;
  s.total = total_;
  s.loss = loss_;
  s.tokens_per_s = tokens_per_step_ / step_time_;  // NaN before the first update
  s.eta_s = static_cast<double>(total_ - step_) * step_time_;
  s.elapsed_s = last_time_;
  s.extra = extra_;
  s.unit = opt_.unit;
  return s;
}

}  // namespace plait::obs
