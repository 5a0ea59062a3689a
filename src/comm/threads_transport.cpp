#include "comm/threads_transport.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>

#include "comm/reduce.h"
#include "util/background.h"
#include "util/error.h"

namespace plait::comm {
namespace {

using Clock = ThreadsWorld::Clock;

// Bounds of the adaptive spin budget (see threads_transport.h).
constexpr std::int64_t kSpinMaxNs = 1'000'000, kSpinMinNs = 2'000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

Clock::time_point deadline_after(double seconds) {
  if (seconds <= 0) return Clock::time_point::max();
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

template <class Queue, class Pred>
auto find_first(Queue& q, Pred pred) {
  return std::find_if(q.begin(), q.end(), pred);
}

bool same_envelope(int src, std::uint64_t ctx, std::uint64_t tag, const Message& m) {
  return m.src == src && m.ctx == ctx && m.tag == tag;
}

}  // namespace

// ---- the world ----------------------------------------------------------------------

ThreadsWorld::ThreadsWorld(const ThreadsConfig& c)
    : links_(c.world, c.ranks_per_node, c.intra, c.inter),
      board_(c.world),
      spin_(c.world <= static_cast<int>(std::thread::hardware_concurrency())) {
  for (int r = 0; r < c.world; ++r) boxes_.push_back(std::make_unique<Mailbox>());
}

std::uint64_t ThreadsWorld::context_id(std::uint64_t parent, std::uint64_t counter, int color) {
  std::lock_guard lock(ctx_m_);
  auto [it, inserted] = contexts_.try_emplace({parent, counter, color}, next_ctx_);
  if (inserted) ++next_ctx_;
  return it->second;
}

void ThreadsWorld::abort(int failed_rank, const std::string& why) {
  {
    std::lock_guard lock(abort_m_);
    if (aborted_.load()) return;
    abort_why_ = "rank " + std::to_string(failed_rank) + " failed: " + why;
    aborted_.store(true, std::memory_order_release);
  }
  for (auto& b : boxes_) b->event.notify_all();
}

void ThreadsWorld::throw_aborted(int rank) {
  std::lock_guard lock(abort_m_);
  throw RuntimeError("rank " + std::to_string(rank) + " stopped: " + abort_why_);
}

// ---- requests -----------------------------------------------------------------------

struct ThreadsTransport::Send : RequestState {
  ThreadsWorld* world = nullptr;
  std::shared_ptr<Message> msg;
  bool done = false;
  ~Send() override;
};

struct ThreadsTransport::Recv : RequestState {
  ThreadsWorld* world = nullptr;
  int me = 0;  // world rank of the receiver
  PendingRecv pr;
  Bytes dst;
  Arrive how = Arrive::copy;
  DType dtype = DType::f32;
  bool done = false;
  ~Recv() override;
};

// A send given up before completion: unpost it, or keep the receiver from reading.
ThreadsTransport::Send::~Send() {
  if (done || !msg) return;
  Mailbox& box = world->box(msg->dst);
  {
    std::lock_guard lock(box.m);
    auto it = find_first(box.unexpected, [&](auto& m) { return m == msg; });
    if (it != box.unexpected.end()) {
      box.unexpected.erase(it);
      return;
    }
  }
  int expected = Message::posted;
  if (msg->state.compare_exchange_strong(expected, Message::withdrawn)) return;
  while (msg->state.load(std::memory_order_acquire) == Message::reading) std::this_thread::yield();
}

// A receive given up before completion: unpost it, or tell its sender.
ThreadsTransport::Recv::~Recv() {
  if (done) return;
  std::shared_ptr<Message> msg;
  {
    Mailbox& box = world->box(me);
    std::lock_guard lock(box.m);
    auto it = find_first(box.posted, [&](PendingRecv* p) { return p == &pr; });
    if (it != box.posted.end()) {
      box.posted.erase(it);
      return;
    }
    msg = pr.matched;
  }
  if (!msg) return;
  Mailbox& sender = world->box(msg->src);
  {
    std::lock_guard lock(sender.m);
    int expected = Message::posted;
    msg->state.compare_exchange_strong(expected, Message::refused);
  }
  sender.event.notify_all();
}

// ---- the transport ------------------------------------------------------------------

ThreadsTransport::ThreadsTransport(std::shared_ptr<ThreadsWorld> world, std::vector<int> members,
                                   int me, std::uint64_t ctx, std::string name, double timeout_s)
    : world_(std::move(world)),
      members_(std::move(members)),
      me_(me),
      ctx_(ctx),
      name_(std::move(name)) {
  timeout_s_ = timeout_s;
}

Request ThreadsTransport::isend(int peer, std::uint64_t tag, ConstBytes data) {
  return post_send(peer, tag, data, nullptr);
}

Request ThreadsTransport::isend_back(int peer, std::uint64_t tag, Bytes data) {
  return post_send(peer, tag, data, data.data());
}

Request ThreadsTransport::post_send(int peer, std::uint64_t tag, ConstBytes data,
                                    std::byte* back) {
  if (world_->aborted()) world_->throw_aborted(world_rank());
  auto msg = std::make_shared<Message>();
  msg->src = world_rank();
  msg->dst = members_.at(peer);
  msg->ctx = ctx_;
  msg->tag = tag;
  msg->data = data.data();
  msg->back = back;
  msg->bytes = data.size();
  if (world_->links().enabled()) msg->sent = world_->links().depart(msg->src, msg->dst, msg->bytes);

  Mailbox& box = world_->box(msg->dst);
  bool matched = false;
  {
    std::lock_guard lock(box.m);
    auto it = find_first(box.posted, [&](PendingRecv* p) {
      return p->src == msg->src && p->ctx == ctx_ && p->tag == tag;
    });
    if (it != box.posted.end()) {
      (*it)->matched = msg;
      (*it)->has_match.store(true, std::memory_order_release);
      box.posted.erase(it);
      matched = true;
    } else {
      box.unexpected.push_back(msg);
    }
  }
  if (matched) box.event.notify_all();
  auto s = std::make_unique<Send>();
  s->world = world_.get();
  s->msg = std::move(msg);
  return Request(std::move(s));
}

Request ThreadsTransport::irecv(int peer, std::uint64_t tag, Bytes dst, Arrive how, DType dtype) {
  if (world_->aborted()) world_->throw_aborted(world_rank());
  auto r = std::make_unique<Recv>();
  r->world = world_.get();
  r->me = world_rank();
  r->pr.src = members_.at(peer);
  r->pr.ctx = ctx_;
  r->pr.tag = tag;
  r->dst = dst;
  r->how = how;
  r->dtype = dtype;
  Mailbox& box = world_->box(r->me);
  std::lock_guard lock(box.m);
  auto it = find_first(box.unexpected, [&](const std::shared_ptr<Message>& m) {
    return same_envelope(r->pr.src, ctx_, tag, *m);
  });
  if (it != box.unexpected.end()) {
    r->pr.matched = *it;
    r->pr.has_match.store(true, std::memory_order_release);
    box.unexpected.erase(it);
  } else {
    box.posted.push_back(&r->pr);
  }
  return Request(std::move(r));
}

void ThreadsTransport::wait(Request& r, const OpLabel& op) {
  RequestState* st = r.state();
  if (!st) return;
  if (auto* s = dynamic_cast<Send*>(st))
    wait_send(*s, op);
  else
    wait_recv(static_cast<Recv&>(*st), op);
  r.reset();
}

bool ThreadsTransport::arrived(const Request& r) {
  RequestState* st = r.state();
  if (!st) return true;
  if (auto* s = dynamic_cast<Send*>(st))
    return !s->msg || s->msg->state.load(std::memory_order_acquire) >= Message::consumed;
  return static_cast<Recv*>(st)->pr.has_match.load(std::memory_order_acquire);
}

void ThreadsTransport::wait_send(Send& s, const OpLabel& op) {
  Message& m = *s.msg;
  block([&] { return m.state.load(std::memory_order_acquire) >= Message::consumed; }, m.dst, op);
  s.done = true;
  if (m.state.load() == Message::refused) fail(op, who(m.dst) + " gave up the receive");
  // Emulation: the send is over when its last byte has left this rank's port.
  if (world_->links().enabled() && Clock::now() < m.sent)
    block([&] { return Clock::now() >= m.sent; }, m.dst, op, &m.sent);
}

void ThreadsTransport::wait_recv(Recv& r, const OpLabel& op) {
  block([&] { return r.pr.has_match.load(std::memory_order_acquire); }, r.pr.src, op);
  std::shared_ptr<Message> msg = r.pr.matched;  // published before has_match (release)
  r.done = true;
  if (msg->bytes != r.dst.size()) {
    release_sender(*msg, Message::refused);
    fail(op, who(msg->src) + " sent " + std::to_string(msg->bytes) + " bytes where " +
                 std::to_string(r.dst.size()) + " were expected");
  }
  if ((r.how == Arrive::sum_back) != (msg->back != nullptr)) {
    release_sender(*msg, Message::refused);
    fail(op, who(msg->src) + (msg->back ? " lent its bytes for the sums, where a plain message"
                                        : " sent a plain message, where one taking the sums") +
                 " was expected");
  }
  int expected = Message::posted;
  if (!msg->state.compare_exchange_strong(expected, Message::reading))
    fail(op, who(msg->src) + " withdrew its message");
  take(r, *msg);
  release_sender(*msg, Message::consumed);  // the sender's buffer is free again
  if (world_->links().enabled()) emulate_arrival(r, *msg, op);
}

void ThreadsTransport::take(Recv& r, Message& msg) {
  if (msg.bytes == 0) return;
  switch (r.how) {
    case Arrive::copy: std::memcpy(r.dst.data(), msg.data, msg.bytes); break;
    case Arrive::sum: reduce_sum(r.dtype, r.dst.data(), msg.data, msg.bytes); break;
    case Arrive::sum_back: reduce_sum_back(r.dtype, r.dst.data(), msg.back, msg.bytes); break;
  }
}

// Sleeps until the emulated link would have delivered the message.
void ThreadsTransport::emulate_arrival(Recv& r, Message& msg, const OpLabel& op) {
  const Clock::time_point in = world_->links().arrive(r.me, msg.src, msg.bytes, msg.sent);
  if (Clock::now() < in) block([&] { return Clock::now() >= in; }, msg.src, op, &in);
}

void ThreadsTransport::release_sender(Message& msg, Message::State to) {
  Mailbox& sender = world_->box(msg.src);
  msg.state.store(to, std::memory_order_release);
  sender.event.notify_all();
}

template <class Ready>
void ThreadsTransport::block(Ready ready, int peer, const OpLabel& op,
                             const Clock::time_point* until) {
  if (ready()) return;
  Mailbox& box = world_->box(world_rank());
  // no spin while a background thread (a checkpoint write) competes for the cores:
  // sleeping at once lets the peer queued behind it run (util/background.h)
  if (world_->spins() && !until && background_busy().load(std::memory_order_relaxed) == 0) {
    const std::int64_t budget = box.spin_ns.load(std::memory_order_relaxed);
    const auto end = Clock::now() + std::chrono::nanoseconds(budget);
    do {
      for (int i = 0; i < 64; ++i) {
        if (ready()) {
          box.spin_ns.store(std::min(kSpinMaxNs, 2 * budget), std::memory_order_relaxed);
          return;
        }
        cpu_relax();
      }
    } while (Clock::now() < end);
    box.spin_ns.store(std::max(kSpinMinNs, budget / 2), std::memory_order_relaxed);
  }
  WaitBoard::Entry entry(world_->board(), world_rank(),
                         {ctx_, op.seq, op.name, &name_, peer, op.collective});
  const Clock::time_point deadline = until ? *until : deadline_after(timeout_s_);
  for (;;) {
    const std::uint32_t seen = box.event.epoch();  // before ready(): no lost wake-up
    if (ready()) return;
    if (world_->aborted()) world_->throw_aborted(world_rank());
    if (Clock::now() >= deadline) {
      if (until) return;
      throw_timeout(peer, op, ctx_);
    }
    box.event.wait(seen, deadline);
  }
}

void ThreadsTransport::await(const std::function<int()>& missing, const OpLabel& op) {
  Mailbox& box = world_->box(world_rank());
  const Clock::time_point deadline = deadline_after(timeout_s_);
  std::optional<WaitBoard::Entry> entry;  // names the rank waited for now
  int posted = -1;
  for (;;) {
    const std::uint32_t seen = box.event.epoch();  // before missing(): no lost wake-up
    const int q = missing();
    if (q < 0) return;
    if (world_->aborted()) world_->throw_aborted(world_rank());
    if (Clock::now() >= deadline) throw_timeout(members_[q], op, ctx_);
    if (q != posted) {
      entry.reset();
      entry.emplace(world_->board(), world_rank(),
                    WaitInfo{ctx_, op.seq, op.name, &name_, members_[q], op.collective});
      posted = q;
    }
    box.event.wait(seen, deadline);
  }
}

void ThreadsTransport::throw_timeout(int peer, const OpLabel& op, std::uint64_t ctx) {
  const WaitBoard::Verdict v =
      world_->board().explain(world_rank(), {ctx, op.seq, op.name, &name_, peer, op.collective});
  char waited[32];
  std::snprintf(waited, sizeof waited, "%g", timeout_s_);
  std::string msg = "timeout: " + std::string(op.name) + " #" + std::to_string(op.seq) +
                    " in group '" + name_ + "' (rank " + std::to_string(me_) + " of " +
                    std::to_string(size()) + ") waited " + waited + " s for " + who(peer);
  if (v.chain.size() > 1) msg += "; " + who(v.chain[0]);
  for (std::size_t i = 1; i < v.chain.size(); ++i)
    msg += (i == 1 ? " waits for " : ", which waits for ") + who(v.chain[i]);
  throw TimeoutError(msg + "; " + missing_text(v));
}

std::string ThreadsTransport::missing_text(const WaitBoard::Verdict& v) const {
  if (v.cycle) return "deadlock: " + v.state;
  return "missing " + who(v.chain.back()) + " (" + v.state + ")";
}

void ThreadsTransport::fail(const OpLabel& op, const std::string& what) {
  // A peer that withdrew because the run was aborted: report the cause, not the echo.
  if (world_->aborted()) world_->throw_aborted(world_rank());
  std::string msg = std::string(op.name) + " #" + std::to_string(op.seq) + " in group '" + name_ +
                    "' (rank " + std::to_string(me_) + " of " + std::to_string(size()) +
                    "): " + what;
  WaitBoard::Verdict v;
  if (op.collective && world_->board().verdict(ctx_, op.seq, &v))
    msg += " after a timeout; " + missing_text(v);
  throw RuntimeError(msg);
}

int ThreadsTransport::group_rank_of(int world_rank) const {
  auto it = std::find(members_.begin(), members_.end(), world_rank);
  return it == members_.end() ? -1 : static_cast<int>(it - members_.begin());
}

std::string ThreadsTransport::who(int world_rank) const {
  const int g = group_rank_of(world_rank);
  if (g < 0) return "world rank " + std::to_string(world_rank);
  std::string s = "rank " + std::to_string(g);
  if (g != world_rank || static_cast<int>(members_.size()) != world_->size())
    s += " (world rank " + std::to_string(world_rank) + ")";
  return s;
}

std::shared_ptr<Transport> ThreadsTransport::split(int color, int, const std::vector<int>& members,
                                                   const std::string& name) {
  const std::uint64_t counter = splits_++;
  if (color < 0) return nullptr;
  const std::uint64_t ctx = world_->context_id(ctx_, counter, color);
  std::vector<int> world_members;
  for (int g : members) world_members.push_back(members_.at(g));
  const int me = static_cast<int>(std::find(members.begin(), members.end(), me_) - members.begin());
  return std::make_shared<ThreadsTransport>(world_, std::move(world_members), me, ctx, name,
                                            timeout_s_);
}

std::shared_ptr<Transport> ThreadsTransport::dup(const std::string& name) {
  const std::uint64_t ctx = world_->context_id(ctx_, splits_++, -1);
  return std::make_shared<ThreadsTransport>(world_, members_, me_, ctx, name, timeout_s_);
}

}  // namespace plait::comm
