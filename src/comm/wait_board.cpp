#include "comm/wait_board.h"

#include <algorithm>
#include <cstring>

namespace plait::comm {

WaitBoard::WaitBoard(int world) {
  for (int r = 0; r < world; ++r) slots_.push_back(std::make_unique<Slot>());
}

WaitBoard::Entry::Entry(WaitBoard& board, int rank, const WaitInfo& w)
    : board_(board), rank_(rank) {
  {
    std::lock_guard lock(board.verdict_m_);
    id_ = board.next_id_++;
  }
  Slot& s = *board.slots_[rank];
  std::lock_guard lock(s.m);
  s.waits.push_back({id_, w});
}

WaitBoard::Entry::~Entry() {
  Slot& s = *board_.slots_[rank_];
  std::lock_guard lock(s.m);
  std::erase_if(s.waits, [this](const Posted& p) { return p.id == id_; });
}

void WaitBoard::set_finished(int rank) {
  Slot& s = *slots_[rank];
  std::lock_guard lock(s.m);
  s.finished = true;
}

bool WaitBoard::find(int rank, const WaitInfo& op, WaitInfo* out) {
  Slot& s = *slots_[rank];
  std::lock_guard lock(s.m);
  for (const Posted& p : s.waits)
    if (p.info.ctx == op.ctx && p.info.seq == op.seq && std::strcmp(p.info.op, op.op) == 0) {
      *out = p.info;
      return true;
    }
  return false;
}

std::string WaitBoard::describe(int rank) {
  Slot& s = *slots_[rank];
  std::lock_guard lock(s.m);
  if (s.finished) return "it has returned from its worker";
  if (s.waits.empty()) return "it is not communicating";
  const WaitInfo& w = s.waits.front().info;
  return std::string("it is waiting in ") + w.op + " #" + std::to_string(w.seq) + " of group '" +
         (w.group ? *w.group : std::string("?")) + "'";
}

std::string WaitBoard::activity(int rank) {
  Slot& s = *slots_[rank];
  std::lock_guard lock(s.m);
  if (s.finished) return "returned from its worker";
  if (s.waits.empty()) return "not communicating";
  const WaitInfo& w = s.waits.front().info;
  return std::string("waiting in ") + w.op + " #" + std::to_string(w.seq) + " of group '" +
         (w.group ? *w.group : std::string("?")) + "' for rank " + std::to_string(w.peer);
}

bool WaitBoard::verdict(std::uint64_t ctx, std::uint64_t seq, Verdict* out) {
  std::lock_guard lock(verdict_m_);
  auto it = verdicts_.find({ctx, seq});
  if (it == verdicts_.end()) return false;
  *out = it->second;
  return true;
}

WaitBoard::Verdict WaitBoard::explain(int rank, const WaitInfo& w) {
  const auto key = std::make_pair(w.ctx, w.seq);
  if (w.collective) {
    std::lock_guard lock(verdict_m_);
    if (auto it = verdicts_.find(key); it != verdicts_.end()) return it->second;
  }
  Verdict v;
  int cur = w.peer;
  v.chain.push_back(cur);
  WaitInfo next;
  while (find(cur, w, &next)) {
    cur = next.peer;
    if (cur == rank || std::count(v.chain.begin(), v.chain.end(), cur)) {
      v.cycle = true;
      break;
    }
    v.chain.push_back(cur);
  }
  v.state = v.cycle ? "the ranks wait for each other" : describe(cur);
  if (!w.collective) return v;
  std::lock_guard lock(verdict_m_);
  return verdicts_.emplace(key, v).first->second;
}

}  // namespace plait::comm
