// What this machine can hold and schedule, read before a command allocates or starts
// threads, so that an impossible size is refused with one line ("needs X GiB, have
// Y GiB") instead of ending in std::bad_alloc, an abort, or a swapping machine.
#pragma once
#include <string>

namespace plait {

// Bytes this process may still allocate: the smallest of MemAvailable
// (/proc/meminfo), the cgroup's memory.max less memory.current, and the address-space
// limit (RLIMIT_AS) less what is mapped now. Unknown parts are ignored.
double available_memory_bytes();

// Throws UsageError "WHAT needs X GiB of memory, this machine has Y GiB available"
// when `bytes` exceeds what is available. `what` names the flags or file responsible.
void require_memory(double bytes, const std::string& what);

// Threads this machine runs at once (hardware_concurrency, at least 1).
int machine_cores();

// The most threads one process may start: RLIMIT_NPROC and the kernel's threads-max,
// less the threads running now (at most 1 << 20).
int thread_headroom();

// "12.5 GiB"
std::string gib(double bytes);

}  // namespace plait
