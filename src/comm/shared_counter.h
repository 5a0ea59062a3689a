// A counter every rank of a group can fetch-and-add, atomically: the dispenser of
// work stealing's micro-batches (balance/steal.h, parallel/dp_steal.h).
//
// Threads: one std::atomic shared by the group's threads (rank 0 makes it and hands
// its address to the others over the group; in-process, an address is a fine message).
// MPI: one int64 in an RMA window of rank 0 (MPI_Win_allocate over a private duplicate
// of the group's communicator, passive target: MPI_Win_lock_all once, then
// MPI_Fetch_and_op or MPI_Compare_and_swap + MPI_Win_flush per operation); ranks of one
// machine reach it through shared memory without rank 0 taking part.
//
// Beside the counter, a board of `slots` int64 values (make_shared_counter's `slots`):
// work stealing's claim board, each unit's expected free time (balance::board_entry).
// Each value is atomic on its own (threads: std::atomic; MPI: MPI_Accumulate with
// MPI_REPLACE and MPI_Get_accumulate with MPI_NO_OP + MPI_Win_flush), with no order
// among them. Like the counter's, its operations never wait for another rank.
#pragma once
#include <cstdint>
#include <memory>
#include <span>

#include "comm/group.h"

namespace plait::comm {

class SharedCounter {
 public:
  virtual ~SharedCounter() = default;
  // Adds `delta` and returns the value before, atomically over the whole group.
  virtual int64_t fetch_add(int64_t delta) = 0;
  // Sets it to `desired` if it holds `expected`; returns the value before, atomically.
  virtual int64_t compare_and_swap(int64_t expected, int64_t desired) = 0;
  // The board's slot `slot` (0 <= slot < slots) becomes `value`.
  virtual void store(int slot, int64_t value) = 0;
  // Slots [0, values.size()) (at most slots) into `values`, each read atomically.
  virtual void load(std::span<int64_t> values) = 0;
  // The board's size.
  virtual int slots() const = 0;
};

// Collective over `group` (every member calls it, at the same point, with the same
// `slots`): a counter at 0 and a board of `slots` zeros.
// Null (on every rank alike) for an MPI group whose transport is not MpiTransport itself
// (--intra-link/--inter-link wrap it), or whose MPI cannot make the RMA window.
// Destroying it is collective too under MPI (MPI_Win_free), except while an exception
// unwinds (then the window is left to MPI_Finalize or the process's end).
std::unique_ptr<SharedCounter> make_shared_counter(Group& group, int slots = 0);

}  // namespace plait::comm
