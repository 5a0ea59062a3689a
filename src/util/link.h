// A link's α-β description: a message of n bytes takes latency + n / bandwidth.
// Used by the emulated links of the threads transport (comm/) and by the cost model
// (plan/). Parsed from "LATENCY:BANDWIDTH", e.g. "5us:10GB/s", "2ms:100MB/s", or
// "1ms:inf" (unlimited bandwidth: latency only).
#pragma once
#include <string>

namespace plait {

struct LinkSpec {
  double latency_s = 0.0;       // α, seconds per message
  double bandwidth_Bps = 0.0;   // 1/β, bytes per second; 0 means unlimited
  double seconds(double bytes) const {
    return latency_s + (bandwidth_Bps > 0 ? bytes / bandwidth_Bps : 0.0);
  }
};

// Throws UsageError naming the text when it does not parse.
LinkSpec parse_link(const std::string& text);
std::string format_link(const LinkSpec& link);

}  // namespace plait
