#include "plan/cluster_spec.h"

#include <filesystem>

#include "plan/json_fields.h"
#include "util/error.h"

namespace plait::plan {
namespace {

constexpr double GiB = 1024.0 * 1024.0 * 1024.0;
constexpr double us = 1e-6;

// Per-device numbers are NVIDIA's datasheets (dense tensor-core FLOP/s at 16-bit,
// HBM size and bandwidth, NVLink bandwidth per direction) and the DGX reference
// designs (network adapters per node, divided over its 8 GPUs). Latencies are the
// few-microsecond per-step figures of NCCL's tuning model. gemm_efficiency is the
// whole-step sustained fraction the decision tree's one-device figure uses (see
// docs/PLANNER.md, "Presets"); the per-operation numbers are below.
struct PerOp {
  int multiprocessors;       // SMs: a GEMM's output tiles run in waves of this many
  double sustained_clock;    // NVIDIA's clock at the power limit under HPL / boost clock
  double gemm_max_fraction;  // best large GEMM / peak: the "maximum achievable matmul
                             // FLOPS" (MAMF) measured by Bekman's mamf-finder, bf16
  double memory_efficiency;  // streaming kernels / datasheet bandwidth
  double fused_attention;    // FlashAttention-2 forward + backward / peak
};

ClusterSpec dgx(const char* name, const char* device, double peak, double efficiency,
                double memory_gib, double memory_Bps, PerOp op, LinkSpec intra, LinkSpec inter,
                const char* source) {
  ClusterSpec c;
  c.name = name;
  c.device.name = device;
  c.device.peak_flops = peak;
  c.device.gemm_efficiency = efficiency;
  c.device.memory_bytes = memory_gib * GiB;
  c.device.memory_Bps = memory_Bps;
  c.device.gemm_max_fraction = op.gemm_max_fraction;
  c.device.sustained_clock = op.sustained_clock;
  c.device.multiprocessors = op.multiprocessors;
  c.device.gemm_tile = 128;           // cuBLAS's large tensor-core tiles (128 x 128, 128 x 256)
  c.device.kernel_overhead_s = 3 * us;  // launch and tail per kernel
  c.device.memory_efficiency = op.memory_efficiency;
  c.device.fused_attention_fraction = op.fused_attention;
  c.devices_per_node = 8;
  c.devices = 8;
  c.intra = intra;
  c.inter = inter;
  c.format = Format::mixed;
  c.source = source;
  return c;
}

// MAMF (ml-engineering, "Maximum Achievable Matmul FLOPS comparison table", CUDA 12.1):
// A100 SXM 267.9 of 312 TFLOP/s (85.9%), H100 SXM 792.1 of 989 (80.1%); V100 has no
// entry and is taken at 0.8. Streaming kernels: 85% of the datasheet HBM bandwidth
// (a copy reaches 85-91%). Matrix units at full load hold a lower clock than the boost
// clock the peak is quoted at: NVIDIA runs HPL on A100 at 1305 of 1410 MHz (Lockwood,
// "peak FLOPS"); V100 and H100 are taken at their boost clock. FlashAttention-2 (Dao 2023): 50-73% of peak forward on A100,
// less backward; 35% on H100.
const std::vector<ClusterSpec>& presets() {
  static const std::vector<ClusterSpec> list = {
      // NVLink 2: 6 links x 25 GB/s per direction; DGX-1: 4 x 100 Gb/s EDR per node.
      dgx("v100", "V100-SXM2-32GB", 125e12, 0.224, 32, 900e9, {80, 1, 0.8, 0.85, 0.3}, {3 * us, 150e9},
          {6 * us, 50e9 / 8}, "V100 datasheet; DGX-1; 28 TFLOP/s sustained (Lambda, 2020)"),
      // NVLink 3 via NVSwitch: 600 GB/s bidirectional; DGX A100: 8 x 200 Gb/s HDR.
      dgx("a100-80gb", "A100-SXM4-80GB", 312e12, 0.5, 80, 2039e9, {108, 1305.0 / 1410, 0.859, 0.85, 0.5},
          {3 * us, 300e9}, {6 * us, 25e9},
          "A100 datasheet; DGX A100 (Selene); Narayanan et al. 2021; MAMF"),
      dgx("a100-40gb", "A100-SXM4-40GB", 312e12, 0.5, 40, 1555e9, {108, 1305.0 / 1410, 0.859, 0.85, 0.5},
          {3 * us, 300e9}, {6 * us, 25e9}, "A100 40GB datasheet; DGX A100; MAMF"),
      // BLOOM's machine (BigScience 2022, §3.4): nodes of 8 A100-80GB joined by four
      // NVLinks (4 x 25 GB/s per direction), four 100 Gb/s Omni-Path links per node.
      dgx("jean-zay", "A100-SXM4-80GB", 312e12, 0.5, 80, 2039e9, {108, 1305.0 / 1410, 0.859, 0.85, 0.5},
          {3 * us, 100e9}, {6 * us, 50e9 / 8},
          "A100 datasheet; Jean Zay (IDRIS) as described in the BLOOM paper; MAMF"),
      // NVLink 4 via NVSwitch: 900 GB/s bidirectional; DGX H100: 8 x 400 Gb/s NDR.
      dgx("h100", "H100-SXM5-80GB", 989e12, 0.5, 80, 3350e9, {132, 1, 0.801, 0.85, 0.35}, {3 * us, 450e9},
          {6 * us, 50e9}, "H100 SXM datasheet; DGX H100; efficiency as A100 (assumed); MAMF"),
  };
  return list;
}

LinkSpec link_field(const nlohmann::json& j, const std::string& key, const std::string& file) {
  if (!j.contains(key) || !j.at(key).is_object())
    throw UsageError(file + ": field '" + key +
                     "' is missing (an object with latency_us "
                     "and bandwidth_gbps)");
  const auto& l = j.at(key);
  LinkSpec s;
  s.latency_s = positive_field(l, "latency_us", file, key + ".latency_us", nullptr, true) * us;
  s.bandwidth_Bps = positive_field(l, "bandwidth_gbps", file, key + ".bandwidth_gbps") * 1e9;
  return s;
}

DeviceSpec device_field(const nlohmann::json& j, const std::string& file) {
  if (!j.contains("device") || !j.at("device").is_object())
    throw UsageError(file +
                     ": field 'device' is missing (an object with peak_tflops, "
                     "memory_gib, memory_bandwidth_gbps)");
  const auto& d = j.at("device");
  const double one = 1.0, none = 0.0, half = 0.5;
  DeviceSpec s;
  s.name = string_field(d, "name", "device");
  s.peak_flops = positive_field(d, "peak_tflops", file, "device.peak_tflops") * 1e12;
  s.gemm_efficiency = positive_field(d, "efficiency", file, "device.efficiency", &one);
  if (s.gemm_efficiency > 1)
    throw UsageError(file + ": field 'device.efficiency' must be in (0, 1]");
  s.memory_bytes = positive_field(d, "memory_gib", file, "device.memory_gib") * GiB;
  s.memory_Bps =
      positive_field(d, "memory_bandwidth_gbps", file, "device.memory_bandwidth_gbps") * 1e9;
  s.gelu_per_s = positive_field(d, "gelu_gelems", file, "device.gelu_gelems", &none, true) * 1e9;
  s.gemm_max_fraction =
      positive_field(d, "gemm_max_fraction", file, "device.gemm_max_fraction", &s.gemm_efficiency);
  s.sustained_clock = positive_field(d, "sustained_clock", file, "device.sustained_clock", &one);
  s.memory_efficiency =
      positive_field(d, "memory_efficiency", file, "device.memory_efficiency", &one);
  s.fused_attention_fraction = positive_field(d, "fused_attention_fraction", file,
                                              "device.fused_attention_fraction", &half);
  for (auto [v, field] : {std::pair{s.gemm_max_fraction, "gemm_max_fraction"},
                          {s.sustained_clock, "sustained_clock"},
                          {s.memory_efficiency, "memory_efficiency"},
                          {s.fused_attention_fraction, "fused_attention_fraction"}})
    if (v > 1) throw UsageError(file + ": field 'device." + field + "' must be in (0, 1]");
  s.multiprocessors = static_cast<int>(
      positive_field(d, "multiprocessors", file, "device.multiprocessors", &none, true));
  s.gemm_tile = static_cast<int>(
      positive_field(d, "gemm_tile", file, "device.gemm_tile", &none, true));
  s.kernel_overhead_s =
      positive_field(d, "kernel_overhead_us", file, "device.kernel_overhead_us", &none, true) * us;
  return s;
}

}  // namespace

const ClusterSpec* find_cluster_preset(const std::string& name) {
  for (const auto& c : presets())
    if (c.name == name) return &c;
  return nullptr;
}

std::vector<std::string> cluster_preset_names() {
  std::vector<std::string> names;
  for (const auto& c : presets()) names.push_back(c.name);
  return names;
}

ClusterSpec load_cluster(const std::string& name_or_file) {
  if (const ClusterSpec* p = find_cluster_preset(name_or_file)) return *p;
  if (!std::filesystem::exists(name_or_file)) {
    std::string names;
    for (const auto& n : cluster_preset_names()) names += (names.empty() ? "" : ", ") + n;
    throw UsageError("unknown cluster '" + name_or_file + "' (presets: " + names +
                     "; or a JSON file)");
  }
  const auto& f = name_or_file;
  const nlohmann::json j = read_json_file(f);
  ClusterSpec c;
  c.name = string_field(j, "name", std::filesystem::path(f).stem().string());
  c.device = device_field(j, f);
  c.devices_per_node = positive_int_field(j, "devices_per_node", f, "devices_per_node");
  const int one = 1;
  c.devices = c.devices_per_node * positive_int_field(j, "nodes", f, "nodes", &one);
  c.intra = link_field(j, "intra", f);
  c.inter = link_field(j, "inter", f);
  const std::string precision = string_field(j, "precision", "mixed");
  if (precision != "mixed" && precision != "fp32")
    throw UsageError(f + ": field 'precision' must be \"mixed\" or \"fp32\"");
  c.format = parse_format(precision);
  c.source = f;
  return c;
}

}  // namespace plait::plan
