// Typed errors. Library code throws these; only the CLI turns them into exit codes.
//   UsageError   -> exit 2: bad flags, configs, corpora or checkpoints. what() is ONE
//                   line that says what is wrong and where (file, flag, tensor name).
//   RuntimeError -> exit 1: a failure while running (I/O, a peer that timed out).
#pragma once
#include <stdexcept>
#include <string>

namespace plait {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct RuntimeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A blocking wait that expired. The message names the operation, its sequence
// number, the group and the rank that was waited for.
struct TimeoutError : RuntimeError {
  using RuntimeError::RuntimeError;
};

}  // namespace plait
