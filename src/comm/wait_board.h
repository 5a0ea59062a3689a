// The wait board of the threads transport: who is blocked waiting for whom, so that a
// timeout can name the rank that is really missing rather than the neighbour that is
// stuck behind it.
//
// Every blocking wait posts an entry (context, sequence number, operation, the world
// rank waited for) for as long as it blocks. When rank A times out waiting for B in
// operation (ctx, seq), explain() follows the chain: if B is itself blocked in the
// same operation, waiting for C, go on to C, and so on; the first rank that is not
// blocked in that operation is the missing one. An operation is its context, sequence
// number and name: a rank that skipped a collective has its later collectives one
// sequence number early, under another name. The first verdict for an operation is
// kept, so ranks that time out later (after their neighbours gave up and left) name
// the same missing rank (collectives only: point-to-point tags are reused).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace plait::comm {

struct WaitInfo {
  std::uint64_t ctx = 0;
  std::uint64_t seq = 0;
  const char* op = "";                 // a string literal (OpLabel::name)
  const std::string* group = nullptr;  // outlives the wait (owned by the transport)
  int peer = -1;                       // world rank waited for
  bool collective = false;             // (ctx, seq) names one collective call
};

class WaitBoard {
 public:
  explicit WaitBoard(int world);

  // Posts `w` as a wait of world rank `rank` for the entry's lifetime.
  class Entry {
   public:
    Entry(WaitBoard& board, int rank, const WaitInfo& w);
    ~Entry();
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;

   private:
    WaitBoard& board_;
    int rank_;
    std::uint64_t id_;
  };

  void set_finished(int rank);

  // What `rank` is doing, for heartbeats: "waiting in <op> #<seq> of group '<g>' for
  // rank <world rank>", "not communicating" or "returned from its worker".
  std::string activity(int rank);

  // The verdict on a timeout of `rank` waiting as `w`: the chain of world ranks from
  // w.peer to the missing rank (last element), and what the missing rank is doing.
  struct Verdict {
    std::vector<int> chain;
    std::string state;  // e.g. "it is waiting in barrier #3 of group 'world'"
    bool cycle = false;
  };
  Verdict explain(int rank, const WaitInfo& w);
  // The verdict already reached for operation (ctx, seq), if any.
  bool verdict(std::uint64_t ctx, std::uint64_t seq, Verdict* out);

 private:
  struct Posted {
    std::uint64_t id;
    WaitInfo info;
  };
  struct Slot {
    std::mutex m;
    std::vector<Posted> waits;
    bool finished = false;
  };
  // The wait of `rank` in operation op (same context, sequence number and name), if
  // it is blocked in it.
  bool find(int rank, const WaitInfo& op, WaitInfo* out);
  std::string describe(int rank);

  std::vector<std::unique_ptr<Slot>> slots_;
  std::mutex verdict_m_;
  std::map<std::pair<std::uint64_t, std::uint64_t>, Verdict> verdicts_;
  std::uint64_t next_id_ = 0;  // guarded by verdict_m_
};

}  // namespace plait::comm
