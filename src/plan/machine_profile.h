// What `plait bench calibrate` measures on this machine, and the cluster it makes for
// `plait simulate`: the local workers as devices of one (or several emulated) nodes.
//
// Measured on ONE thread (plait's workers run one BLAS thread each):
//   sgemm_flops   cblas_sgemm on the demo model's c_fc shape (2048 x 1024 x 256)
//   memory_Bps    bytes read + written per second by out[i] = a[i] + b[i] over 64 MiB
//   gelu_per_s    tanh-GELU forward elements per second (compute-bound on CPUs)
//   link          one message between two threads of this process: latency of a
//                 hand-off, bandwidth of copying 16 MiB out of the other's buffer
//   attention     plait's attention kernels (forward + backward, small per-head GEMMs
//                 in blocks of 32 rows) at head size 32, ctx 128: FLOP/s of the
//                 products they compute
//   p2p           a message of the threads transport between two ranks (the path the
//                 trainers' activations, gradients and allreduce segments take): the
//                 one-way latency when the receiver spins (world <= cores), when it
//                 sleeps (world > cores: a wake-up), and the bandwidth of a 1 MiB one
//   parallel      the sgemm rate PER THREAD with k = 1, 2, 4, 8 threads running it at
//                 once, relative to one thread: min(1, cores / k) on an idle machine,
//                 less when other processes hold cores (the load the run will see)
// and the machine's cores and memory.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "plan/cluster_spec.h"

namespace plait::plan {

struct MachineProfile {
  double sgemm_flops = 0;
  double memory_Bps = 0;
  double gelu_per_s = 0;
  LinkSpec link;
  double attention_flops = 0;     // 0 (an older profile): the sgemm rate
  LinkSpec p2p;                   // spinning receiver; zero (older profile): `link`
  double p2p_sleep_latency_s = 0; // sleeping receiver; 0: p2p.latency_s
  // parallel_share[i]: per-thread rate with kParallelThreads[i] threads at once / one
  // thread's. Empty (older profile): min(1, cores / k).
  std::vector<double> parallel_share;
  static constexpr int kParallelThreads[4] = {1, 2, 4, 8};
  int cores = 1;
  double memory_bytes = 0;  // physical memory
  std::string source;       // "measured now" or the file it came from

  nlohmann::json to_json() const;
  // Throws UsageError naming `file` and the field when a value is missing or bad.
  static MachineProfile from_json(const nlohmann::json& j, const std::string& file);
  static MachineProfile load(const std::string& file);
  void save(const std::string& file) const;  // UsageError if it cannot be written

  // Per-thread share of a core when `threads` threads compute at once (interpolated
  // between the measured counts; beyond 8, the 8-thread aggregate split further).
  double thread_share(double threads) const;
  double attention_rate() const { return attention_flops > 0 ? attention_flops : sgemm_flops; }
  LinkSpec p2p_link() const { return p2p.bandwidth_Bps > 0 ? p2p : link; }
  double p2p_latency(bool spinning) const {
    return spinning || p2p_sleep_latency_s <= 0 ? p2p_link().latency_s : p2p_sleep_latency_s;
  }
};

// The local machine as a cluster of `workers` devices for the simulator: each worker
// gets the sgemm rate × its BLAS threads × min(1, cores / (workers × blas_threads)),
// the elementwise rates × min(1, cores / workers) (threads beyond the cores
// time-share them; elementwise kernels run on the worker's thread alone), memory /
// workers, fp32.
// Nodes of `ranks_per_node` workers (0: all in one node); links default to the
// measured in-process link.
ClusterSpec local_cluster(const MachineProfile& p, int workers, int blas_threads,
                          int ranks_per_node, const std::optional<LinkSpec>& intra,
                          const std::optional<LinkSpec>& inter);

}  // namespace plait::plan
