#include "fault/crash_hook.h"

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace plait::fault {
namespace {

bool scheduled(const char* env, const char* phase, int64_t step) {
  const size_t n = std::strlen(phase);
  for (const char* p = env; *p;) {
    long long at = -1;
    if (std::strncmp(p, phase, n) == 0 && p[n] == ':' && std::sscanf(p + n + 1, "%lld", &at) == 1 &&
        at == step)
      return true;
    const char* comma = std::strchr(p, ',');
    if (!comma) break;
    p = comma + 1;
  }
  return false;
}

}  // namespace

void crash_point(const char* phase, int64_t step, const std::filesystem::path& run_dir) {
  const char* env = std::getenv("PLAIT_TEST_CRASH_AT");
  if (!env || !scheduled(env, phase, step)) return;
  const std::string mark =
      (run_dir / ("test-crash-" + std::string(phase) + "-" + std::to_string(step))).string();
  const int fd = ::open(mark.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
  if (fd < 0) return;  // fired before (or another rank fires it now)
  ::close(fd);
  std::raise(SIGKILL);
}

}  // namespace plait::fault
