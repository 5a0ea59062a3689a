// Group: a set of ranks that communicate together (the world, or a data-, tensor- or
// pipeline-parallel axis), as seen by one of its members.
//
// A group has two private contexts: one for its collectives (tagged by the group's
// collective sequence number, so consecutive collectives never mix) and one for its
// point-to-point messages (tagged by the caller). One thread may run the group's
// collectives while another sends and receives on it; two threads must not run
// collectives of one group at the same time (give each its own group: split or dup).
//
// Nodes: ranks that share a machine. Under MPI, the machines found by a shared-memory
// split (or --ranks-per-node blocks, to emulate nodes on one machine); under threads,
// blocks of ranks_per_node consecutive world ranks. Node indices are dense per group,
// numbered by their lowest member.
//
// Group is a handle: copies refer to the same group (and share its sequence number).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "comm/transport.h"

namespace plait::comm {

enum class Backend { threads, mpi };
Backend parse_backend(const std::string& name);  // "threads" | "mpi"; UsageError otherwise
const char* to_string(Backend b);

class Group {
 public:
  Group() = default;  // no group: what split() returns to a rank that did not join

  // Backends build the world group (comm.cpp).
  Group(Backend backend, std::shared_ptr<Transport> coll, std::shared_ptr<Transport> p2p,
        std::vector<int> world_ranks, std::vector<int> nodes);

  bool valid() const { return s_ != nullptr; }
  int rank() const;
  int size() const;
  const std::string& name() const;
  Backend backend() const;
  int world_rank(int group_rank) const;
  int world_rank() const { return world_rank(rank()); }

  int node_count() const;
  int node(int group_rank) const;
  int local_rank() const;                         // among this rank's node's members
  int local_size() const;                         // members on this rank's node
  std::vector<int> node_members(int node) const;  // group ranks, ascending
  bool uniform_nodes() const;                     // every node has local_size() members

  double timeout() const;
  void set_timeout(double seconds);  // for every later wait of this group

  // Collective over this group: members with the same color form a new group, ordered
  // by (key, rank); color < 0 joins none and gets an invalid Group.
  Group split(int color, int key, const std::string& name);
  // Collective over this group: the listed ranks (in that order) form a new group.
  Group subgroup(const std::vector<int>& ranks, const std::string& name);
  // Collective: a new group of the same members with its own contexts.
  Group dup(const std::string& name);

  // Point-to-point on the group's own context; tag in [0, max_tag()].
  Request isend(int peer, std::uint64_t tag, ConstBytes data);
  Request irecv(int peer, std::uint64_t tag, Bytes dst);
  void wait(Request& r);
  bool arrived(const Request& r);  // Transport::arrived
  void send(int peer, std::uint64_t tag, ConstBytes data);
  void recv(int peer, std::uint64_t tag, Bytes dst);
  std::uint64_t max_tag() const;

  // For the collectives: the collective context and the next sequence number.
  Transport& transport();
  std::uint64_t next_seq();

 private:
  struct State;
  std::shared_ptr<State> s_;
};

}  // namespace plait::comm
