#include "parallel/stage_repartition.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <span>

#include <nlohmann/json.hpp>

#include "comm/collectives.h"
#include "fault/supervisor.h"
#include "layout/stage_partition.h"

namespace plait {
namespace {

// PLAIT_TEST_REPARTITION_AT=S:a,b,...: the stages to move to after step S, else empty.
std::vector<int> test_stages_at(int64_t done) {
  const char* env = std::getenv("PLAIT_TEST_REPARTITION_AT");
  long long at = -1;
  int used = 0;
  if (env == nullptr || std::sscanf(env, "%lld:%n", &at, &used) != 1 || used == 0 || at != done)
    return {};
  std::vector<int> sizes;
  for (const char* p = env + used; *p;) {
    sizes.push_back(std::atoi(p));
    while (*p && *p != ',') ++p;
    if (*p == ',') ++p;
  }
  return sizes;
}

std::string ms(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", s * 1e3);
  return buf;
}

}  // namespace

StageRepartition::StageRepartition(comm::Group& world, const TrainOptions& opt, MeshShape shape,
                                   std::vector<int> sizes, std::function<double()> busy_total)
    : world_(world), opt_(opt), shape_(shape), sizes_(std::move(sizes)),
      busy_total_(std::move(busy_total)) {}

bool StageRepartition::after_step(int64_t done, RunOutput* out) {
  const double total = busy_total_();
  double mine = total - last_total_;
  last_total_ = total;
  std::vector<double> all(static_cast<size_t>(world_.size()));
  comm::allgather_bytes(world_, std::as_bytes(std::span<const double>(&mine, 1)),
                        std::as_writable_bytes(std::span<double>(all)));
  std::vector<double> busy(sizes_.size(), 0.0);  // per stage: its slowest rank's
  for (int r = 0; r < world_.size(); ++r) {
    double& b = busy[static_cast<size_t>(mesh_coord(shape_, r).pp)];
    b = std::max(b, all[static_cast<size_t>(r)]);
  }
  const bool sample = !first_;
  first_ = false;
  if (const std::vector<int> forced = test_stages_at(done); !forced.empty()) {
    next_ = forced;
    announce(done, busy, 0, 0, "test hook PLAIT_TEST_REPARTITION_AT", out);
    return true;
  }
  return sample && decide(done, busy, out);
}

bool StageRepartition::decide(int64_t done, const std::vector<double>& busy, RunOutput* out) {
  const RepartitionAdvice now = advise_repartition(sizes_, busy, opt_.stage_costs);
  if (now.excess() <= opt_.repartition_threshold || now.best == sizes_) {
    streak_ = 0;
    summed_.clear();
    return false;
  }
  summed_.resize(busy.size(), 0.0);
  for (size_t s = 0; s < busy.size(); ++s) summed_[s] += busy[s];
  if (++streak_ < opt_.repartition_after) return false;
  // The streak's summed times decide (less noisy than the last step's alone).
  const RepartitionAdvice a = advise_repartition(sizes_, summed_, opt_.stage_costs);
  if (a.excess() <= opt_.repartition_threshold || a.best == sizes_) {
    streak_ = 0;
    summed_.clear();
    return false;
  }
  next_ = a.best;
  const double n = streak_;
  std::vector<double> mean(summed_);
  for (double& b : mean) b /= n;
  announce(done, mean, a.measured / n, a.predicted / n, nullptr, out);
  return true;
}

void StageRepartition::announce(int64_t done, const std::vector<double>& busy, double measured,
                                double predicted, const char* why, RunOutput* out) {
  if (out == nullptr) return;
  std::string per_stage;
  for (double b : busy) {
    if (!per_stage.empty()) per_stage += ' ';
    per_stage += ms(b);
  }
  std::string reason;
  if (why != nullptr) {
    reason = why;
  } else {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%.0f%% over the %s the measured costs predict for %s "
                  "(threshold %.0f%% for %d steps)", (measured / predicted - 1) * 100,
                  ms(predicted).c_str(), stages_string(next_).c_str(),
                  opt_.repartition_threshold * 100, opt_.repartition_after);
    reason = (opt_.stage_costs.micro_batches > 0 ? "a step of these stages takes " + ms(measured) +
                                                      " (simulated from their busy times), "
                                                : "the busiest stage takes " + ms(measured) +
                                                      " per step, ") + buf;
  }
  const std::string line = "repartition: after step " + std::to_string(done) + " stages " +
                           stages_string(sizes_) + " -> " + stages_string(next_) +
                           " (busy per stage " + per_stage + "; " + reason +
                           "): checkpoint, then exit " + std::to_string(fault::kRepartitionExit) +
                           " to restart with --resume auto --stages " + stages_string(next_);
  std::fprintf(stderr, "%s\n", line.c_str());  // said even without progress
  out->event({{"event", "repartition"}, {"step", done}, {"from", sizes_}, {"to", next_},
              {"busy_s", busy}, {"why", reason}});
  fault::write_repartition(opt_.checkpoint_dir, stages_string(next_), line);
}

}  // namespace plait
