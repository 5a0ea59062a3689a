// Transport: one rank's endpoint on one communication context (a group's private
// channel). Point-to-point messages of byte spans, matched by (source, tag) in posting
// order (messages between one pair with one tag never overtake each other), as in MPI.
//
// Two backends implement it (threads_transport.h, mpi_transport.h); everything above
// (Group, the collectives) is written against this interface only.
//
// Requests are non-blocking: isend/irecv post, wait() completes. A receive says what to
// do with the bytes that arrive: copy them into `dst`, or add them element-wise into
// `dst` (Arrive::sum). The threads backend adds straight from the sender's memory (no
// copy at all); the MPI backend receives into scratch and adds from there, segment by
// segment.
//
// Buffers: a send's data must stay alive and unchanged, and a receive's destination
// untouched, until the request completes. Dropping an incomplete Request (an exception
// unwinding) withdraws it safely: the peer then fails instead of reading freed memory.
//
// Every wait blocks at most timeout() seconds (each wait on its own), then throws
// TimeoutError naming the operation (OpLabel), the group and the rank waited for.
//
// Thread safety: one Transport may be used by one thread at a time. Different
// transports of one rank (different groups, or a group's collective and point-to-point
// contexts) may be used by different threads at once.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace plait::comm {

using Bytes = std::span<std::byte>;
using ConstBytes = std::span<const std::byte>;

enum class DType : std::uint8_t { f32, f64 };
std::size_t dtype_size(DType t);
const char* to_string(DType t);

// What a receive does with the bytes that arrive. sum_back: add them into `dst`, then
// write the sums back over the sender's bytes, which it lent with isend_back (only on a
// transport whose sums_back() is true; the two ends must agree).
enum class Arrive : std::uint8_t { copy, sum, sum_back };

// The operation a wait belongs to, for error messages: e.g. {"allreduce(ring)", 7}.
// `collective`: seq is a collective sequence number (unique per group), not a tag.
struct OpLabel {
  const char* name = "recv";
  std::uint64_t seq = 0;
  bool collective = false;
};

// Backend state of one posted operation.
struct RequestState {
  virtual ~RequestState() = default;
};

class Request {
 public:
  Request() = default;
  explicit Request(std::unique_ptr<RequestState> s) : state_(std::move(s)) {}
  bool pending() const { return state_ != nullptr; }
  RequestState* state() const { return state_.get(); }
  void reset() { state_.reset(); }

 private:
  std::unique_ptr<RequestState> state_;
};

class Transport {
 public:
  virtual ~Transport() = default;

  virtual int rank() const = 0;  // this rank in the transport's group
  virtual int size() const = 0;
  virtual const std::string& name() const = 0;  // the group's name, for messages

  double timeout() const { return timeout_s_; }
  void set_timeout(double seconds) { timeout_s_ = seconds; }

  virtual Request isend(int peer, std::uint64_t tag, ConstBytes data) = 0;
  virtual Request irecv(int peer, std::uint64_t tag, Bytes dst, Arrive how, DType dtype) = 0;

  // Whether a summing receive can write its sums back into the sender's memory
  // (Arrive::sum_back matched with isend_back): the threads backend, where the
  // receiver reads the sender's bytes in place, so the sender gets the result without
  // a second message. A collective uses it only where it is true (on every rank: it
  // is a property of the backend, not of the rank).
  virtual bool sums_back() const { return false; }
  // A send whose bytes the receiver (an Arrive::sum_back receive) overwrites with the
  // sums; when the request completes, `data` holds them. Only where sums_back().
  virtual Request isend_back(int peer, std::uint64_t tag, Bytes data);
  // Completes `r` (a no-op if it is not pending); throws TimeoutError or RuntimeError.
  virtual void wait(Request& r, const OpLabel& op) = 0;
  // Whether wait(r) would now go ahead without waiting for the peer: a receive's
  // message has arrived, a send has been taken. Does not complete
  // `r`. For a caller that must stop waiting on a peer it learns is gone (backup
  // workers) instead of waiting for the timeout.
  virtual bool arrived(const Request& r) = 0;

  // A new context for the members of this transport's group with the same `color`
  // (their ranks in this group, ordered by key, as every member computed it). Collective
  // over this group: every member calls it, in the same order; color < 0 takes part
  // without joining and gets nullptr.
  virtual std::shared_ptr<Transport> split(int color, int key, const std::vector<int>& members,
                                           const std::string& name) = 0;
  // A second, independent context over the same members (collective).
  virtual std::shared_ptr<Transport> dup(const std::string& name) = 0;

  // Largest user tag isend/irecv accept.
  virtual std::uint64_t max_tag() const = 0;

  // The backend's own allreduce (MPI_Allreduce), if it has one; false otherwise.
  virtual bool native_allreduce(Bytes data, DType dtype, const OpLabel& op) = 0;

 protected:
  double timeout_s_ = 60.0;
};

}  // namespace plait::comm
