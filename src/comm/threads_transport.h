// The threads backend: every rank is a thread of one process; messages never get
// copied into a buffer in between.
//
// A send posts an envelope pointing at the sender's own bytes into the receiver's
// mailbox; the receiver, when it waits, copies (or adds) straight from the sender's
// memory into its destination and then releases the sender. A message therefore costs
// one pass over the data, done by the receiver, and a send completes when the
// receiver has taken it (synchronous mode: wait for receives before sends, as the
// collectives do). With emulated links the send completes when its last byte has
// left the sender's port, the receive when it has arrived (emulated_links.h).
//
// Matching: each rank's mailbox holds sends that arrived before their receive was
// posted (unexpected, in arrival order) and receives posted before their send (in
// posting order); a message matches the first entry with the same (source, context,
// tag), so messages between one pair with one tag never overtake.
//
// Message states: posted -> reading -> consumed. A sender that gives up
// moves posted -> withdrawn (the receiver then fails instead of reading freed memory,
// and a sender whose message is being read waits until the read is over); a receiver
// that gives up moves it posted -> refused (the sender then fails).
//
// Blocking: an adaptive spin (only when every rank can have its own core), then a
// sleep on the rank's mailbox event (a futex, wake_event.h), with the timeout, the
// world's abort flag, and an entry on the wait board (wait_board.h) for diagnosis.
// The spin budget adapts per rank: it doubles (up to 1 ms) when a wait ends while
// spinning and halves (down to 2 us) when it ends asleep. On a quiet machine the
// collectives' waits end within the spin (no system call on the hot path); under
// background load they do not, the budget collapses, and a waiting rank gives its
// core away at once instead of spinning on it while the peer it waits for is queued
// behind another process. While a background thread of this process is busy (a
// checkpoint write, util/background.h) waits do not spin at all: the writer competes
// for the same cores, and a rank spinning while its peer is queued behind the writer
// would double what the checkpoint costs training.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "comm/emulated_links.h"
#include "comm/transport.h"
#include "comm/wait_board.h"
#include "comm/wake_event.h"

namespace plait::comm {

struct ThreadsConfig {
  int world = 1;
  int ranks_per_node = 0;  // <= 0: one node
  LinkSpec intra, inter;   // emulated links; zero: not emulated
};

// A posted send: the envelope and a view of the sender's bytes.
struct Message {
  enum State : int { posted, reading, consumed, withdrawn, refused };
  int src = 0, dst = 0;  // world ranks
  std::uint64_t ctx = 0, tag = 0;
  const std::byte* data = nullptr;
  std::byte* back = nullptr;  // isend_back: `data`, lent for the receiver to write sums into
  std::size_t bytes = 0;
  EmulatedLinks::Clock::time_point sent{};  // emulation: its last byte left the sender
  std::atomic<int> state{posted};
};

// A posted receive waiting for its send.
struct PendingRecv {
  int src = 0;
  std::uint64_t ctx = 0, tag = 0;
  std::shared_ptr<Message> matched;  // guarded by the receiver's mailbox mutex
  std::atomic<bool> has_match{false};
};

struct Mailbox {
  std::mutex m;      // guards the two queues
  WakeEvent event;   // bumped after every change a waiting owner may be waiting for
  std::atomic<std::int64_t> spin_ns{250'000};  // the owner's current spin budget
  std::deque<std::shared_ptr<Message>> unexpected;
  std::deque<PendingRecv*> posted;
};

// What all the ranks of one run_threads share.
class ThreadsWorld {
 public:
  using Clock = EmulatedLinks::Clock;
  explicit ThreadsWorld(const ThreadsConfig& c);

  int size() const { return static_cast<int>(boxes_.size()); }
  int node_of(int world_rank) const { return links_.node_of(world_rank); }
  Mailbox& box(int world_rank) { return *boxes_[world_rank]; }
  EmulatedLinks& links() { return links_; }
  WaitBoard& board() { return board_; }
  bool spins() const { return spin_; }

  // The same id for every member that asks with the same arguments.
  std::uint64_t context_id(std::uint64_t parent, std::uint64_t counter, int color);

  // Makes every current and later wait of every rank throw (a rank failed).
  void abort(int failed_rank, const std::string& why);
  bool aborted() const { return aborted_.load(std::memory_order_acquire); }
  [[noreturn]] void throw_aborted(int rank);

 private:
  std::vector<std::unique_ptr<Mailbox>> boxes_;
  EmulatedLinks links_;
  WaitBoard board_;
  bool spin_;
  std::mutex ctx_m_;
  std::map<std::tuple<std::uint64_t, std::uint64_t, int>, std::uint64_t> contexts_;
  std::uint64_t next_ctx_ = 1;  // 0 is the world's collective context
  std::atomic<bool> aborted_{false};
  std::mutex abort_m_;
  std::string abort_why_;
};

class ThreadsTransport final : public Transport {
 public:
  // `members`: world ranks of the group, by group rank; `me`: this rank's group rank.
  ThreadsTransport(std::shared_ptr<ThreadsWorld> world, std::vector<int> members, int me,
                   std::uint64_t ctx, std::string name, double timeout_s);

  int rank() const override { return me_; }
  int size() const override { return static_cast<int>(members_.size()); }
  const std::string& name() const override { return name_; }

  Request isend(int peer, std::uint64_t tag, ConstBytes data) override;
  Request irecv(int peer, std::uint64_t tag, Bytes dst, Arrive how, DType dtype) override;
  // Sums go back into the sender's memory in the receiver's one pass; not with
  // emulated links (whose α-β times count the allgather's messages).
  bool sums_back() const override { return !world_->links().enabled(); }
  Request isend_back(int peer, std::uint64_t tag, Bytes data) override;
  void wait(Request& r, const OpLabel& op) override;
  bool arrived(const Request& r) override;

  std::shared_ptr<Transport> split(int color, int key, const std::vector<int>& members,
                                   const std::string& name) override;
  std::shared_ptr<Transport> dup(const std::string& name) override;
  std::uint64_t max_tag() const override { return ~std::uint64_t{0}; }
  bool native_allreduce(Bytes, DType, const OpLabel&) override { return false; }

  int world_rank() const { return members_[me_]; }

  // A wait outside the mailboxes, for a collective whose members meet in shared memory
  // (latency_allreduce.h): sleeps until missing() returns -1 (otherwise the group rank
  // still waited for) the way this transport's own waits do: the timeout, the world's
  // abort, an entry on the wait board. Whoever changes what missing() reads then calls
  // wake() for every rank that may wait on it.
  void await(const std::function<int()>& missing, const OpLabel& op);
  // Wakes group rank g's waits (its mailbox event); no system call unless it sleeps.
  void wake(int g) { world_->box(members_[g]).event.notify_all(); }

 private:
  struct Send;
  struct Recv;
  Request post_send(int peer, std::uint64_t tag, ConstBytes data, std::byte* back);
  void wait_send(Send& s, const OpLabel& op);
  void wait_recv(Recv& r, const OpLabel& op);
  void take(Recv& r, Message& msg);
  void emulate_arrival(Recv& r, Message& msg, const OpLabel& op);
  void release_sender(Message& msg, Message::State to);
  // Blocks until ready() (read under this rank's mailbox lock) or until `until`.
  template <class Ready>
  void block(Ready ready, int peer, const OpLabel& op,
             const ThreadsWorld::Clock::time_point* until = nullptr);
  [[noreturn]] void throw_timeout(int peer, const OpLabel& op, std::uint64_t ctx);
  // "<op> #<seq> in group '<name>': <what>", plus the missing rank if a timeout in
  // this operation has named one.
  [[noreturn]] void fail(const OpLabel& op, const std::string& what);
  std::string missing_text(const WaitBoard::Verdict& v) const;
  std::string who(int world_rank) const;
  int group_rank_of(int world_rank) const;

  std::shared_ptr<ThreadsWorld> world_;
  std::vector<int> members_;
  int me_;
  std::uint64_t ctx_;
  std::string name_;
  std::uint64_t splits_ = 0;  // collective calls of split/dup so far
};

}  // namespace plait::comm
