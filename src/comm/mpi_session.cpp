// MPI start-up and shut-down, node discovery, the serialising lock and the watchdog.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "comm/mpi_include.h"
#include "comm/mpi_transport.h"
#include "util/error.h"

namespace plait::comm {
namespace {

std::atomic<bool> g_serialise{false};
std::atomic<bool> g_oversubscribed{false};
std::mutex g_mpi_mutex;

// One thread that ends the job when an armed deadline passes.
class WatchdogThread {
 public:
  using Clock = std::chrono::steady_clock;

  std::uint64_t arm(Clock::time_point deadline, std::string message) {
    std::lock_guard lock(m_);
    if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
    const std::uint64_t id = next_++;
    armed_.emplace(id, Entry{deadline, std::move(message)});
    cv_.notify_all();
    return id;
  }

  void disarm(std::uint64_t id) {
    std::lock_guard lock(m_);
    armed_.erase(id);
  }

  void stop() {
    {
      std::lock_guard lock(m_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Entry {
    Clock::time_point deadline;
    std::string message;
  };

  void loop() {
    std::unique_lock lock(m_);
    while (!stop_) {
      auto first = std::min_element(armed_.begin(), armed_.end(), [](auto& a, auto& b) {
        return a.second.deadline < b.second.deadline;
      });
      if (first == armed_.end()) {
        cv_.wait(lock);
      } else if (Clock::now() >= first->second.deadline) {
        std::fprintf(stderr, "plait: error: %s\n", first->second.message.c_str());
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, 1);
      } else {
        const Clock::time_point until = first->second.deadline;  // disarm() may erase it
        cv_.wait_until(lock, until);
      }
    }
  }

  std::mutex m_;
  std::condition_variable cv_;
  std::map<std::uint64_t, Entry> armed_;
  std::uint64_t next_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

WatchdogThread& watchdog() {
  static WatchdogThread w;
  return w;
}

}  // namespace

bool mpi_oversubscribed() { return g_oversubscribed.load(std::memory_order_relaxed); }

MpiLock::MpiLock() {
  if (g_serialise.load(std::memory_order_relaxed)) g_mpi_mutex.lock();
}
MpiLock::~MpiLock() {
  if (g_serialise.load(std::memory_order_relaxed)) g_mpi_mutex.unlock();
}

Watchdog::Watchdog(double seconds, std::string message) {
  if (seconds <= 0) return;
  const auto deadline =
      WatchdogThread::Clock::now() + std::chrono::duration_cast<WatchdogThread::Clock::duration>(
                                         std::chrono::duration<double>(seconds));
  id_ = watchdog().arm(deadline, std::move(message)) + 1;
}

Watchdog::~Watchdog() {
  if (id_) watchdog().disarm(id_ - 1);
}

// A rank started by a launcher (mpirun's daemon is its parent) exits when the launcher
// goes: a killed mpirun must not leave ranks training and committing checkpoints that
// race the restarted job. The parent is polled (a parent-death signal would fire when
// the launcher's forking THREAD ends, which is not the launcher ending); a checkpoint
// being written is in a temp directory, never half-committed (docs/CHECKPOINTS.md).
void exit_with_launcher() {
  bool launched = false;
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"})
    launched = launched || std::getenv(var) != nullptr;
  if (!launched) return;
  const pid_t parent = ::getppid();
  std::thread([parent] {
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (::getppid() != parent) {
        std::fprintf(stderr, "plait: rank %d: its launcher (pid %d) is gone; exiting\n",
                     static_cast<int>(::getpid()), static_cast<int>(parent));
        std::_Exit(1);
      }
    }
  }).detach();
}

void mpi_initialize() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (finalized) throw RuntimeError("MPI was finalised already (one MPI run per process)");
  if (initialized) return;
  int provided = 0;
  if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
    throw RuntimeError("MPI_Init_thread failed (is this running under mpirun?)");
  g_serialise.store(provided < MPI_THREAD_MULTIPLE);
  exit_with_launcher();
}

namespace {

// mpirun keeps the other ranks running when one dies (`--enable-recovery --mca
// orte_abort_on_non_zero_status 0`, which plait launch adds for backup workers; the
// same test as parallel/backup_sync.h's mpirun_keeps_survivors).
bool survivors_kept() {
  const char* recovery = std::getenv("OMPI_MCA_orte_enable_recovery");
  const char* abort = std::getenv("OMPI_MCA_orte_abort_on_non_zero_status");
  return recovery && std::string(recovery) == "1" && abort && std::string(abort) == "0";
}

}  // namespace

void mpi_shutdown(bool finalize) {
  watchdog().stop();
  // Under the recovery flags a rank may have died during the run, and MPI_Finalize's
  // fence (OpenMPI 4.1, no ULFM) can then wait for it for ever (seen: both survivors of
  // a dropped rank stuck in ompi_mpi_finalize after the run, now and then). So the
  // ranks end without it; mpirun, under the same flags, does not count that against
  // the job, and the operating system releases what MPI held.
  if (!finalize || survivors_kept()) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

std::vector<int> mpi_world_nodes(int ranks_per_node) {
  int rank = 0, size = 0;
  MpiLock lock;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local);
  int leader = rank;  // the lowest world rank on this machine names the node
  MPI_Allreduce(MPI_IN_PLACE, &leader, 1, MPI_INT, MPI_MIN, local);
  int on_this_machine = 1;
  MPI_Comm_size(local, &on_this_machine);
  g_oversubscribed.store(on_this_machine > static_cast<int>(std::thread::hardware_concurrency()));
  MPI_Comm_free(&local);
  std::vector<int> leaders(size), nodes(size);
  MPI_Allgather(&leader, 1, MPI_INT, leaders.data(), 1, MPI_INT, MPI_COMM_WORLD);
  std::vector<int> sorted = leaders;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  for (int r = 0; r < size; ++r)
    nodes[r] = ranks_per_node > 0 ? r / ranks_per_node
                                  : static_cast<int>(std::lower_bound(sorted.begin(), sorted.end(),
                                                                     leaders[r]) -
                                                     sorted.begin());
  return nodes;
}

std::string mpi_library() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int len = 0;
  MPI_Get_library_version(text, &len);
  std::string s(text, static_cast<size_t>(std::max(0, len)));
  s = s.substr(0, s.find('\n'));
  while (!s.empty() && (s.back() == ' ' || s.back() == ',' || s.back() == '\0')) s.pop_back();
  return s;
}

}  // namespace plait::comm
