// Where it is trained: a device type, how many per node, the links inside a node and
// between nodes (per device, α-β), and the numeric format training uses there.
// Presets for DGX-class V100, A100 (40 and 80 GB) and H100 nodes; any other from a JSON file.
#pragma once
#include <string>
#include <vector>

#include "plan/training_format.h"
#include "util/link.h"

namespace plait::plan {

struct DeviceSpec {
  std::string name;
  double peak_flops = 0;       // dense datasheet peak at the training precision, FLOP/s
  double gemm_efficiency = 1;  // sustained fraction of peak of a whole training step: only
                               // the decision tree's "compute-only on one device" figure
  double memory_bytes = 0;     // device memory
  double memory_Bps = 0;       // memory bandwidth (datasheet)
  double gelu_per_s = 0;       // tanh-GELU elements/s where it is compute-bound (CPUs);
                               // 0: it is memory-bound like the other elementwise kernels
  // The per-operation model (op_cost.h):
  double gemm_max_fraction = 1;  // of peak, the best large matrix product (measured)
  double sustained_clock = 1;    // clock held under a training step's power / boost clock
  int gemm_tile = 0;             // output tile edge of the GEMM kernels (quantisation); 0: none
  int multiprocessors = 0;       // tiles run in waves of this many (wave quantisation); 0: none
  double kernel_overhead_s = 0;  // fixed time per kernel (launch, ramp-up, tail)
  double memory_efficiency = 1;  // of memory_Bps a streaming (element-wise) kernel reaches
  double fused_attention_fraction = 0.5;  // of peak, a fused (flash) attention kernel
  double sustained_flops() const { return peak_flops * gemm_efficiency; }
  double stream_Bps() const { return memory_Bps * memory_efficiency; }
};

struct ClusterSpec {
  std::string name;
  DeviceSpec device;
  int devices_per_node = 8;  // k
  int devices = 8;           // N, the default for --gpus
  LinkSpec intra;            // one device's link to the others of its node
  LinkSpec inter;            // one device's share of its node's network
  Format format = Format::mixed;
  std::string source;  // where the numbers come from
};

// "v100", "a100-80gb", "h100"; nullptr if unknown.
const ClusterSpec* find_cluster_preset(const std::string& name);
std::vector<std::string> cluster_preset_names();

// A preset name or a JSON file (format in docs/PLANNER.md):
//   {"name": "...", "devices_per_node": 8, "nodes": 4,
//    "device": {"peak_tflops": 312, "efficiency": 0.5, "memory_gib": 80,
//               "memory_bandwidth_gbps": 2039[, "gemm_max_fraction": 0.86,
//               "gemm_tile": 128, "kernel_overhead_us": 4, "memory_efficiency": 0.85,
//               "fused_attention_fraction": 0.5]},
//    "intra": {"latency_us": 3, "bandwidth_gbps": 300},
//    "inter": {"latency_us": 6, "bandwidth_gbps": 25},
//    "precision": "mixed" | "fp32"}
// Bad files throw UsageError naming the file and the field.
ClusterSpec load_cluster(const std::string& name_or_file);

}  // namespace plait::plan
