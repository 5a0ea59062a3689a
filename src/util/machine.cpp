#include "util/machine.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "util/error.h"

namespace plait {
namespace {

// The number after `key` in a "key value [kB]" file such as /proc/meminfo, or -1.
double field(const char* path, const std::string& key, double unit) {
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line))
    if (line.compare(0, key.size(), key) == 0) {
      std::istringstream in(line.substr(key.size()));
      double v = -1;
      if (in >> v) return v * unit;
    }
  return -1;
}

// A one-number file (cgroup v2), or -1 ("max", missing).
double number_file(const char* path) {
  std::ifstream f(path);
  double v = -1;
  if (!(f >> v)) return -1;
  return v;
}

}  // namespace

double available_memory_bytes() {
  double have = field("/proc/meminfo", "MemAvailable:", 1024.0);
  if (have < 0) have = 1e18;
  const double max = number_file("/sys/fs/cgroup/memory.max");
  const double cur = number_file("/sys/fs/cgroup/memory.current");
  if (max > 0 && cur >= 0) have = std::min(have, std::max(0.0, max - cur));
  rlimit as{};
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    const double mapped = field("/proc/self/status", "VmSize:", 1024.0);
    have = std::min(have, std::max(0.0, static_cast<double>(as.rlim_cur) - std::max(0.0, mapped)));
  }
  return have;
}

void require_memory(double bytes, const std::string& what) {
  const double have = available_memory_bytes();
  if (bytes > have)
    throw UsageError(what + " needs " + gib(bytes) + " of memory, this machine has " + gib(have) +
                     " available");
}

int machine_cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

int thread_headroom() {
  double limit = 1 << 20;
  rlimit np{};
  if (getrlimit(RLIMIT_NPROC, &np) == 0 && np.rlim_cur != RLIM_INFINITY)
    limit = std::min(limit, static_cast<double>(np.rlim_cur));
  const double kernel = number_file("/proc/sys/kernel/threads-max");
  if (kernel > 0) limit = std::min(limit, kernel);
  const double running = field("/proc/self/status", "Threads:", 1.0);
  return static_cast<int>(std::max(1.0, limit - std::max(0.0, running)));
}

std::string gib(double bytes) {
  char buf[48];
  const double g = bytes / (1024.0 * 1024.0 * 1024.0);
  if (g >= 1e6) std::snprintf(buf, sizeof buf, "%.3g GiB", g);
  else std::snprintf(buf, sizeof buf, "%.*f GiB", g < 10 ? 2 : 1, g);
  return buf;
}

}  // namespace plait
