#include "plan/machine_profile.h"

#include <algorithm>
#include <fstream>

#include "plan/json_fields.h"
#include "util/error.h"

namespace plait::plan {

nlohmann::json MachineProfile::to_json() const {
  nlohmann::json j = {{"sgemm_gflops", sgemm_flops / 1e9},
          {"memory_gbps", memory_Bps / 1e9},
          {"gelu_gelems", gelu_per_s / 1e9},
          {"link_latency_us", link.latency_s * 1e6},
          {"link_bandwidth_gbps", link.bandwidth_Bps / 1e9},
          {"attention_gflops", attention_rate() / 1e9},
          {"p2p_latency_us", p2p_link().latency_s * 1e6},
          {"p2p_sleep_latency_us", p2p_latency(false) * 1e6},
          {"p2p_bandwidth_gbps", p2p_link().bandwidth_Bps / 1e9},
          {"cores", cores},
          {"memory_gib", memory_bytes / (1024.0 * 1024 * 1024)}};
  if (!parallel_share.empty()) {
    j["parallel_threads"] = {1, 2, 4, 8};
    j["parallel_share"] = parallel_share;
  }
  return j;
}

MachineProfile MachineProfile::from_json(const nlohmann::json& j, const std::string& file) {
  MachineProfile p;
  p.sgemm_flops = positive_field(j, "sgemm_gflops", file, "sgemm_gflops") * 1e9;
  p.memory_Bps = positive_field(j, "memory_gbps", file, "memory_gbps") * 1e9;
  p.gelu_per_s = positive_field(j, "gelu_gelems", file, "gelu_gelems") * 1e9;
  p.link.latency_s =
      positive_field(j, "link_latency_us", file, "link_latency_us", nullptr, true) * 1e-6;
  p.link.bandwidth_Bps =
      positive_field(j, "link_bandwidth_gbps", file, "link_bandwidth_gbps") * 1e9;
  p.cores = positive_int_field(j, "cores", file, "cores");
  p.memory_bytes = positive_field(j, "memory_gib", file, "memory_gib") * 1024.0 * 1024 * 1024;
  // Fields added with the calibration of the local simulator; optional (older files).
  const double none = 0;
  p.attention_flops = positive_field(j, "attention_gflops", file, "attention_gflops", &none) * 1e9;
  p.p2p.latency_s =
      positive_field(j, "p2p_latency_us", file, "p2p_latency_us", &none, true) * 1e-6;
  p.p2p.bandwidth_Bps =
      positive_field(j, "p2p_bandwidth_gbps", file, "p2p_bandwidth_gbps", &none) * 1e9;
  p.p2p_sleep_latency_s =
      positive_field(j, "p2p_sleep_latency_us", file, "p2p_sleep_latency_us", &none, true) *
      1e-6;
  if (j.contains("parallel_share")) {
    const auto& v = j.at("parallel_share");
    if (!v.is_array() || v.size() != 4)
      throw UsageError(file + ": parallel_share must be an array of 4 numbers");
    for (const auto& x : v) {
      if (!x.is_number() || !(x.get<double>() > 0))
        throw UsageError(file + ": parallel_share must hold numbers > 0");
      p.parallel_share.push_back(x.get<double>());
    }
  }
  p.source = file;
  return p;
}

MachineProfile MachineProfile::load(const std::string& file) {
  return from_json(read_json_file(file), file);
}

void MachineProfile::save(const std::string& file) const {
  std::ofstream out(file);
  if (!out) throw UsageError(file + ": cannot write the profile");
  out << to_json().dump(2) << "\n";
  if (!out) throw UsageError(file + ": cannot write the profile");
}

double MachineProfile::thread_share(double threads) const {
  threads = std::max(1.0, threads);
  if (parallel_share.size() != 4) return std::min(1.0, cores / threads);
  const int* k = kParallelThreads;
  if (threads >= k[3]) return parallel_share[3] * k[3] / threads;
  int i = 0;
  while (threads > k[i + 1]) ++i;
  const double f = (threads - k[i]) / (k[i + 1] - k[i]);
  // interpolate the aggregate rate (threads x share), then split it
  const double agg = (1 - f) * parallel_share[i] * k[i] + f * parallel_share[i + 1] * k[i + 1];
  return agg / threads;
}

ClusterSpec local_cluster(const MachineProfile& p, int workers, int blas_threads,
                          int ranks_per_node, const std::optional<LinkSpec>& intra,
                          const std::optional<LinkSpec>& inter) {
  workers = std::max(1, workers);
  blas_threads = std::max(1, blas_threads);
  const double threads = static_cast<double>(workers) * blas_threads;
  const double gemm_share = std::min(1.0, p.cores / threads) * blas_threads;
  const double share = std::min(1.0, static_cast<double>(p.cores) / workers);
  ClusterSpec c;
  c.name = "this machine";
  c.device.name = "worker";
  c.device.peak_flops = p.sgemm_flops * gemm_share;
  c.device.gemm_efficiency = 1;  // the measured sgemm rate is already sustained
  c.device.memory_bytes = p.memory_bytes / workers;
  c.device.memory_Bps = p.memory_Bps * share;
  c.device.gelu_per_s = p.gelu_per_s * share;
  c.devices = workers;
  c.devices_per_node = ranks_per_node > 0 ? ranks_per_node : workers;
  c.intra = intra.value_or(p.link);
  c.inter = inter.value_or(p.link);
  c.format = Format::fp32;
  c.source = p.source;
  return c;
}

}  // namespace plait::plan
