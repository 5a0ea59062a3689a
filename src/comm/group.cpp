#include "comm/group.h"

#include <algorithm>
#include <array>
#include <numeric>

#include "comm/collectives.h"
#include "util/error.h"

namespace plait::comm {

struct Group::State {
  Backend backend = Backend::threads;
  std::shared_ptr<Transport> coll, p2p;
  std::vector<int> world_ranks;  // by group rank
  std::vector<int> nodes;        // dense node index, by group rank
  int node_count = 0;
  std::uint64_t seq = 0;  // collectives started on this group so far
};

Backend parse_backend(const std::string& name) {
  if (name == "threads") return Backend::threads;
  if (name == "mpi") return Backend::mpi;
  throw UsageError("unknown backend '" + name + "' (expected threads or mpi)");
}

const char* to_string(Backend b) { return b == Backend::mpi ? "mpi" : "threads"; }

namespace {

// Renumbers node ids densely, in order of first appearance.
std::vector<int> dense_nodes(const std::vector<int>& raw, int* count) {
  std::vector<int> seen, out;
  for (int id : raw) {
    auto it = std::find(seen.begin(), seen.end(), id);
    if (it == seen.end()) {
      seen.push_back(id);
      it = seen.end() - 1;
    }
    out.push_back(static_cast<int>(it - seen.begin()));
  }
  *count = static_cast<int>(seen.size());
  return out;
}

}  // namespace

Group::Group(Backend backend, std::shared_ptr<Transport> coll, std::shared_ptr<Transport> p2p,
             std::vector<int> world_ranks, std::vector<int> nodes)
    : s_(std::make_shared<State>()) {
  s_->backend = backend;
  s_->coll = std::move(coll);
  s_->p2p = std::move(p2p);
  s_->world_ranks = std::move(world_ranks);
  s_->nodes = dense_nodes(nodes, &s_->node_count);
}

int Group::rank() const { return s_->coll->rank(); }
int Group::size() const { return s_->coll->size(); }
const std::string& Group::name() const { return s_->coll->name(); }
Backend Group::backend() const { return s_->backend; }
int Group::world_rank(int group_rank) const { return s_->world_ranks.at(group_rank); }

int Group::node_count() const { return s_->node_count; }
int Group::node(int group_rank) const { return s_->nodes.at(group_rank); }

std::vector<int> Group::node_members(int node) const {
  std::vector<int> out;
  for (int r = 0; r < size(); ++r)
    if (s_->nodes[r] == node) out.push_back(r);
  return out;
}

int Group::local_rank() const {
  const std::vector<int> mine = node_members(node(rank()));
  return static_cast<int>(std::find(mine.begin(), mine.end(), rank()) - mine.begin());
}

int Group::local_size() const { return static_cast<int>(node_members(node(rank())).size()); }

bool Group::uniform_nodes() const {
  for (int n = 0; n < node_count(); ++n)
    if (static_cast<int>(node_members(n).size()) != size() / node_count()) return false;
  return size() % node_count() == 0;
}

double Group::timeout() const { return s_->coll->timeout(); }

void Group::set_timeout(double seconds) {
  s_->coll->set_timeout(seconds);
  s_->p2p->set_timeout(seconds);
}

Group Group::split(int color, int key, const std::string& name) {
  const int p = size();
  std::array<int, 2> mine{color, key};
  std::vector<int> all(2 * static_cast<std::size_t>(p));
  allgather_bytes(*this, std::as_bytes(std::span(mine)), std::as_writable_bytes(std::span(all)));
  std::vector<int> members;  // this group's ranks that share my color, by (key, rank)
  for (int r = 0; r < p; ++r)
    if (color >= 0 && all[2 * r] == color) members.push_back(r);
  std::stable_sort(members.begin(), members.end(),
                   [&](int a, int b) { return all[2 * a + 1] < all[2 * b + 1]; });
  std::shared_ptr<Transport> coll = s_->coll->split(color, key, members, name);
  if (!coll) return Group();
  std::shared_ptr<Transport> p2p = coll->dup(name);
  std::vector<int> world, nodes;
  for (int r : members) {
    world.push_back(s_->world_ranks[r]);
    nodes.push_back(s_->nodes[r]);
  }
  return Group(s_->backend, std::move(coll), std::move(p2p), std::move(world), std::move(nodes));
}

Group Group::subgroup(const std::vector<int>& ranks, const std::string& name) {
  for (int r : ranks)
    if (r < 0 || r >= size() || std::count(ranks.begin(), ranks.end(), r) != 1)
      throw UsageError("subgroup '" + name + "': rank " + std::to_string(r) +
                       " is not a distinct rank of group '" + this->name() + "'");
  auto at = std::find(ranks.begin(), ranks.end(), rank());
  const bool in = at != ranks.end();
  return split(in ? 0 : -1, in ? static_cast<int>(at - ranks.begin()) : 0, name);
}

Group Group::dup(const std::string& name) { return split(0, rank(), name); }

Request Group::isend(int peer, std::uint64_t tag, ConstBytes data) {
  if (tag > max_tag() || peer < 0 || peer >= size())
    throw UsageError("send on group '" + name() + "': bad peer " + std::to_string(peer) +
                     " or tag " + std::to_string(tag));
  return s_->p2p->isend(peer, tag, data);
}

Request Group::irecv(int peer, std::uint64_t tag, Bytes dst) {
  if (tag > max_tag() || peer < 0 || peer >= size())
    throw UsageError("recv on group '" + name() + "': bad peer " + std::to_string(peer) +
                     " or tag " + std::to_string(tag));
  return s_->p2p->irecv(peer, tag, dst, Arrive::copy, DType::f32);
}

void Group::wait(Request& r) { s_->p2p->wait(r, OpLabel{"point-to-point", 0}); }

bool Group::arrived(const Request& r) { return s_->p2p->arrived(r); }

void Group::send(int peer, std::uint64_t tag, ConstBytes data) {
  Request r = isend(peer, tag, data);
  s_->p2p->wait(r, OpLabel{"send", tag});
}

void Group::recv(int peer, std::uint64_t tag, Bytes dst) {
  Request r = irecv(peer, tag, dst);
  s_->p2p->wait(r, OpLabel{"recv", tag});
}

std::uint64_t Group::max_tag() const {
  return std::min<std::uint64_t>(s_->p2p->max_tag(), 0x7fffffff);
}

Transport& Group::transport() { return *s_->coll; }
std::uint64_t Group::next_seq() { return s_->seq++; }

}  // namespace plait::comm
