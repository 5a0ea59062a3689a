#include "parallel/run_output.h"

#include <cmath>
#include <cstdio>

#include "parallel/train_summary.h"

namespace plait {
namespace {

// One entry per rank: the newest step it completed (1-based, as logged) and that
// step's wall, compute and waiting seconds.
nlohmann::json rank_timing(const std::vector<fault::Beat>& beats) {
  nlohmann::json a = nlohmann::json::array();
  for (const fault::Beat& b : beats)
    if (b.timed_step >= 0)  // parameter servers run no steps
      a.push_back({{"rank", b.rank}, {"step", b.timed_step + 1}, {"step_s", b.step_s},
                 {"compute_s", b.compute_s}, {"wait_s", b.wait_s}});
  return a;
}

}  // namespace

RunOutput::RunOutput(const TrainOptions& opt)
    : opt_(opt),
      metrics_(opt.log_path.empty() ? obs::MetricsLog()
                                    : obs::MetricsLog(opt.log_path, opt.resume)),
      trace_(!opt.trace_path.empty()),
      tokens_per_step_(static_cast<int64_t>(opt.batch) * opt.model.ctx) {}

void RunOutput::message(const std::string& line) {
  if (progress_) progress_->message(line);
  else if (opt_.progress) std::fprintf(stderr, "%s\n", line.c_str());
}

void RunOutput::begin(int64_t first, int64_t end, const std::string& description) {
  if (opt_.progress) {
    obs::ProgressOptions po;
    po.plain_every_steps = 0;
    progress_ = std::make_unique<obs::Progress>(opt_.steps, po, first);
  }
  message(description);
  if (first > 0) message("resumed at step " + std::to_string(first));
  if (end < opt_.steps) message("this invocation stops after step " + std::to_string(end));
  metrics_.write({{"event", "start"}, {"step", first}, {"end", end}, {"steps", opt_.steps}});
  trace_.name_rank(0);
}

void RunOutput::step(int64_t step, double loss, float lr, double grad_norm,
                     std::optional<double> val_loss) {
  if (progress_) {
    if (val_loss) progress_->set("val loss", obs::format_loss(*val_loss));
    progress_->set("lr", obs::format_sci(lr));
    progress_->update(step, loss, tokens_per_step_);
  }
  nlohmann::json j = {{"step", step}, {"loss", loss}, {"lr", lr}, {"grad_norm", grad_norm}};
  if (progress_) {
    const double st = progress_->step_time_s();
    if (std::isfinite(st) && st > 0) j["tok_per_s"] = tokens_per_step_ / st;
  }
  if (val_loss) j["val_loss"] = *val_loss;
  if (ranks_) j["rank_timing"] = rank_timing(ranks_());
  j.update(attached_);
  attached_ = nlohmann::json::object();
  metrics_.write(j);
  if (monitor_) monitor_->step(step, loss);
  if (trace_.enabled()) trace_.counter("loss", 0, trace_.now_us(), {{"loss", loss}});
}

void RunOutput::end(const TrainSummary& s) {
  if (progress_) progress_->finish();
  nlohmann::json j = {{"event", "end"}, {"step", s.step}, {"loss", s.last_loss},
                       {"val_loss", s.last_val_loss}, {"tok_per_s", s.tokens_per_s},
                       {"checkpoint", s.checkpoint}};
  if (s.optimizer_bytes > 0) j["optimizer_bytes_per_rank"] = s.optimizer_bytes;
  if (s.gradient_bytes > 0) j["gradient_bytes_per_rank"] = s.gradient_bytes;
  if (s.gradient_peak_bytes > 0) j["gradient_peak_bytes_per_rank"] = s.gradient_peak_bytes;
  if (s.gradient_between_bytes > 0)
    j["gradient_between_micro_batches_bytes_per_rank"] = s.gradient_between_bytes;
  if (s.parameter_bytes > 0) j["parameter_bytes_per_rank"] = s.parameter_bytes;
  if (s.parameter_peak_bytes > 0) j["parameter_peak_bytes_per_rank"] = s.parameter_peak_bytes;
  if (s.gradient_pool_bytes > 0) j["gradient_pool_bytes_per_rank"] = s.gradient_pool_bytes;
  if (s.parameter_pool_bytes > 0) j["parameter_pool_bytes_per_rank"] = s.parameter_pool_bytes;
  if (s.checkpoint_s > 0) j["checkpoint_s"] = s.checkpoint_s, j["loop_s"] = s.loop_s;
  metrics_.write(j);
  if (trace_.enabled()) trace_.write(opt_.trace_path);
}

void RunOutput::trace_event(const char* name, const char* cat, double start_us, int rank,
                            int lane) {
  if (trace_.enabled()) trace_.complete(name, cat, rank, lane, start_us, now() - start_us);
}

}  // namespace plait
