#include "comm/mpi_transport.h"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>

#include "comm/reduce.h"
#include "util/error.h"

namespace plait::comm {
namespace {

using Clock = std::chrono::steady_clock;

// When this machine has more ranks than cores, polls spin this long and then yield
// the core at every turn. Otherwise they spin, as OpenMPI's own waits do: yielding
// would hand the core to any other runnable process for a whole time slice.
constexpr auto kSpin = std::chrono::milliseconds(1);

std::size_t segments_of(std::size_t bytes) {
  return std::max<std::size_t>(
      1, (bytes + MpiTransport::kSegmentBytes - 1) / MpiTransport::kSegmentBytes);
}

// Byte range of segment i of a message of `bytes`.
std::pair<std::size_t, std::size_t> segment(std::size_t bytes, std::size_t i) {
  const std::size_t lo = i * MpiTransport::kSegmentBytes;
  return {lo, std::min(bytes, lo + MpiTransport::kSegmentBytes) - std::min(bytes, lo)};
}

MPI_Datatype mpi_type(DType t) { return t == DType::f64 ? MPI_DOUBLE : MPI_FLOAT; }

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    throw RuntimeError(std::string(what) + " failed: " + std::string(text, len));
  }
}

// Cancels (receives) or forgets (sends) requests that will never be waited for.
void abandon(std::vector<MPI_Request>& reqs, bool cancel) {
  MpiLock lock;
  for (MPI_Request& q : reqs) {
    if (q == MPI_REQUEST_NULL) continue;
    if (cancel) MPI_Cancel(&q);
    MPI_Request_free(&q);
  }
}

}  // namespace

// ---- scratch ------------------------------------------------------------------------

std::unique_ptr<std::vector<std::byte>> ScratchPool::take(std::size_t bytes) {
  std::lock_guard lock(m_);
  auto best = free_.end();
  for (auto it = free_.begin(); it != free_.end(); ++it)
    if ((*it)->size() >= bytes && (best == free_.end() || (*it)->size() < (*best)->size()))
      best = it;
  if (best == free_.end()) return std::make_unique<std::vector<std::byte>>(bytes);
  auto buf = std::move(*best);
  free_.erase(best);
  return buf;
}

void ScratchPool::give(std::unique_ptr<std::vector<std::byte>> buf) {
  std::lock_guard lock(m_);
  free_.push_back(std::move(buf));
}

// ---- requests -----------------------------------------------------------------------

struct MpiTransport::Send : RequestState {
  std::vector<MPI_Request> reqs;
  int peer = 0;
  ~Send() override { abandon(reqs, false); }
};

struct MpiTransport::Recv : RequestState {
  std::vector<MPI_Request> reqs;  // one per segment; posted ones are not MPI_REQUEST_NULL
  int peer = 0;
  int tag = 0;
  MPI_Comm comm = MPI_COMM_NULL;
  Bytes dst;
  Arrive how = Arrive::copy;
  DType dtype = DType::f32;
  std::unique_ptr<std::vector<std::byte>> scratch;  // Arrive::sum only
  ScratchPool* pool = nullptr;
  ~Recv() override {
    const bool pending =
        std::any_of(reqs.begin(), reqs.end(), [](MPI_Request q) { return q != MPI_REQUEST_NULL; });
    abandon(reqs, true);
    if (scratch && !pending)
      pool->give(std::move(scratch));
    else
      scratch.release();  // MPI may still write into it: leak rather than reuse
  }
};

// ---- the transport ------------------------------------------------------------------

MpiTransport::MpiTransport(MPI_Comm comm, std::string name, double timeout_s)
    : comm_(comm), name_(std::move(name)) {
  timeout_s_ = timeout_s;
  MpiLock lock;
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  int* ub = nullptr;
  int found = 0;
  MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &ub, &found);
  if (found && ub) tag_ub_ = *ub;
  MPI_Group mine, world;
  MPI_Comm_group(comm_, &mine);
  MPI_Comm_group(MPI_COMM_WORLD, &world);
  std::vector<int> ranks(size_);
  for (int r = 0; r < size_; ++r) ranks[r] = r;
  world_ranks_.resize(size_);
  MPI_Group_translate_ranks(mine, size_, ranks.data(), world, world_ranks_.data());
  MPI_Group_free(&mine);
  MPI_Group_free(&world);
}

WaitBoard& mpi_wait_board() {
  static WaitBoard board(1);
  return board;
}

MpiTransport::~MpiTransport() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (comm_ != MPI_COMM_WORLD && !finalized) {
    MpiLock lock;
    MPI_Comm_free(&comm_);
  }
}

// Collective tags are (sequence << 32 | step): keep the step in the low 16 bits and as
// many bits of the sequence number as fit above it. User tags (< 2^31) stay as they are.
int MpiTransport::mpi_tag(std::uint64_t tag) const {
  const std::uint64_t folded = (tag >> 32) * 65536 + (tag & 0xffffffffu);
  return static_cast<int>(folded % (static_cast<std::uint64_t>(tag_ub_) + 1));
}

Request MpiTransport::isend(int peer, std::uint64_t tag, ConstBytes data) {
  auto s = std::make_unique<Send>();
  s->peer = peer;
  const std::size_t n = segments_of(data.size());
  s->reqs.assign(n, MPI_REQUEST_NULL);
  MpiLock lock;
  for (std::size_t i = 0; i < n; ++i) {
    auto [lo, len] = segment(data.size(), i);
    check(MPI_Isend(data.data() + lo, static_cast<int>(len), MPI_BYTE, peer, mpi_tag(tag), comm_,
                    &s->reqs[i]),
          "MPI_Isend");
  }
  return Request(std::move(s));
}

Request MpiTransport::irecv(int peer, std::uint64_t tag, Bytes dst, Arrive how, DType dtype) {
  if (how == Arrive::sum_back)  // sums_back() is false: the collectives never ask
    throw RuntimeError("group '" + name_ + "': the MPI transport cannot return sums to a sender");
  auto r = std::make_unique<Recv>();
  r->peer = peer;
  r->dst = dst;
  r->how = how;
  r->dtype = dtype;
  r->pool = &pool_;
  r->tag = mpi_tag(tag);
  r->comm = comm_;
  const std::size_t n = segments_of(dst.size());
  r->reqs.assign(n, MPI_REQUEST_NULL);
  if (how == Arrive::sum)
    r->scratch = pool_.take(std::min(n, kWindow) * std::min(dst.size(), kSegmentBytes));
  for (std::size_t i = 0; i < n && (how == Arrive::copy || i < kWindow); ++i) post_segment(*r, i);
  return Request(std::move(r));
}

// A copying receive lands in place; a summing one in scratch slot i % kWindow.
void MpiTransport::post_segment(Recv& r, std::size_t i) {
  auto [lo, len] = segment(r.dst.size(), i);
  std::byte* into =
      r.how == Arrive::copy ? r.dst.data() + lo : r.scratch->data() + (i % kWindow) * kSegmentBytes;
  MpiLock lock;
  check(MPI_Irecv(into, static_cast<int>(len), MPI_BYTE, r.peer, r.tag, r.comm, &r.reqs[i]),
        "MPI_Irecv");
}

template <class Done>
void MpiTransport::poll(Done done, int peer, const OpLabel& op) {
  if (done()) return;
  const int world_peer = peer >= 0 && peer < size_ ? world_ranks_[peer] : peer;
  WaitBoard::Entry entry(mpi_wait_board(), 0, {0, op.seq, op.name, &name_, world_peer, op.collective});
  const auto start = Clock::now();
  const auto limit = std::chrono::duration<double>(timeout_s_ > 0 ? timeout_s_ : 1e12);
  for (unsigned spins = 1; !done(); ++spins) {
    if (spins % 128 != 0) continue;
    const auto waited = Clock::now() - start;
    if (waited > limit) {
      char text[512];
      std::snprintf(text, sizeof text,
                    "timeout: %s #%llu in group '%s' (rank %d of %d) waited %g s for rank %d",
                    op.name, static_cast<unsigned long long>(op.seq), name_.c_str(), rank_, size_,
                    timeout_s_, peer);
      throw TimeoutError(text);
    }
    if (mpi_oversubscribed() && waited > kSpin) sched_yield();  // share the core
  }
}

void MpiTransport::wait(Request& req, const OpLabel& op) {
  RequestState* st = req.state();
  if (!st) return;
  if (auto* s = dynamic_cast<Send*>(st)) {
    poll(
        [&] {
          int flag = 0;
          MpiLock lock;
          MPI_Testall(static_cast<int>(s->reqs.size()), s->reqs.data(), &flag, MPI_STATUSES_IGNORE);
          return flag != 0;
        },
        s->peer, op);
  } else {
    wait_recv(static_cast<Recv&>(*st), op);
  }
  req.reset();
}

// MPI_Request_get_status tests without completing (or freeing) the request: every
// posted segment done (a summing receive posts kWindow at a time: those).
bool MpiTransport::arrived(const Request& req) {
  RequestState* st = req.state();
  if (!st) return true;
  const std::vector<MPI_Request>& reqs =
      dynamic_cast<Send*>(st) ? static_cast<Send*>(st)->reqs : static_cast<Recv*>(st)->reqs;
  MpiLock lock;
  for (MPI_Request q : reqs) {
    if (q == MPI_REQUEST_NULL) continue;
    int flag = 0;
    MPI_Request_get_status(q, &flag, MPI_STATUS_IGNORE);
    if (!flag) return false;
  }
  return true;
}

// Completes segment after segment, adding each into its place as soon as it is in.
void MpiTransport::wait_recv(Recv& r, const OpLabel& op) {
  for (std::size_t i = 0; i < r.reqs.size(); ++i) {
    MPI_Status status;
    poll(
        [&] {
          int flag = 0;
          MpiLock lock;
          MPI_Test(&r.reqs[i], &flag, &status);
          return flag != 0;
        },
        r.peer, op);
    auto [lo, len] = segment(r.dst.size(), i);
    int got = 0;
    MPI_Get_count(&status, MPI_BYTE, &got);
    if (static_cast<std::size_t>(got) != len)
      throw RuntimeError(std::string(op.name) + " #" + std::to_string(op.seq) + " in group '" +
                         name_ + "': rank " + std::to_string(r.peer) + " sent " +
                         std::to_string(got) + " bytes where " + std::to_string(len) +
                         " were expected");
    if (r.how == Arrive::copy) continue;
    reduce_sum(r.dtype, r.dst.data() + lo, r.scratch->data() + (i % kWindow) * kSegmentBytes, len);
    if (i + kWindow < r.reqs.size()) post_segment(r, i + kWindow);  // reuse the slot
  }
}

std::shared_ptr<Transport> MpiTransport::split(int color, int key, const std::vector<int>&,
                                               const std::string& name) {
  MPI_Comm child = MPI_COMM_NULL;
  {
    MpiLock lock;
    check(MPI_Comm_split(comm_, color < 0 ? MPI_UNDEFINED : color, key, &child), "MPI_Comm_split");
  }
  if (child == MPI_COMM_NULL) return nullptr;
  return std::make_shared<MpiTransport>(child, name, timeout_s_);
}

std::shared_ptr<Transport> MpiTransport::dup(const std::string& name) {
  MPI_Comm child = MPI_COMM_NULL;
  {
    MpiLock lock;
    check(MPI_Comm_dup(comm_, &child), "MPI_Comm_dup");
  }
  return std::make_shared<MpiTransport>(child, name, timeout_s_);
}

bool MpiTransport::native_allreduce(Bytes data, DType dtype, const OpLabel& op) {
  char text[512];
  std::snprintf(text, sizeof text,
                "timeout: %s #%llu in group '%s' (rank %d of %d): MPI_Allreduce did not finish "
                "within %g s (some rank has not joined it)",
                op.name, static_cast<unsigned long long>(op.seq), name_.c_str(), rank_, size_,
                timeout_s_);
  Watchdog watchdog(timeout_s_, text);
  const std::size_t elem = dtype_size(dtype);
  const std::size_t max_count = INT_MAX / 2;
  for (std::size_t off = 0; off < data.size(); off += max_count * elem) {
    const std::size_t count = std::min(max_count, (data.size() - off) / elem);
    MpiLock lock;
    check(MPI_Allreduce(MPI_IN_PLACE, data.data() + off, static_cast<int>(count), mpi_type(dtype),
                        MPI_SUM, comm_),
          "MPI_Allreduce");
  }
  return true;
}

}  // namespace plait::comm
