// Evaluation windows for `plait eval` and the validation loss: every non-overlapping
// window of ctx+1 tokens from offset 0. Window k covers tokens [k(ctx+1), (k+1)(ctx+1)):
//   inputs  = its first ctx tokens
//   targets = its last ctx tokens (inputs shifted by one)
// A tail shorter than ctx+1 tokens is not evaluated. The mean loss over
// count() * ctx tokens is the cross-entropy in nats per token (per byte with bytes).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/tokens.h"

namespace plait::data {

class EvalWindows {
 public:
  // Throws UsageError (naming `name`, e.g. "eval data 'a.txt'") when ctx < 1 or the
  // tokens hold no whole window.
  EvalWindows(std::vector<uint8_t> bytes, int ctx, std::string name = "data");
  EvalWindows(Tokens tokens, int ctx, std::string name = "data");

  // Reads `path` (read_file_bytes: missing, directory, unreadable, empty are
  // UsageErrors) and checks it holds at least one window, naming the file.
  static EvalWindows from_file(const std::string& path, int ctx);

  int ctx() const { return ctx_; }
  int64_t count() const { return tokens_.size() / (int64_t{ctx_} + 1); }
  int64_t tokens() const { return count() * ctx_; }  // targets scored in all windows

  // Windows [first, first + n), row-major; throws std::invalid_argument when the
  // range is not inside [0, count()).
  //   inputs  [n, ctx]
  //   targets [n, ctx]
  void fill(int64_t first, int64_t n, int32_t* inputs, int32_t* targets) const;

 private:
  Tokens tokens_;
  int ctx_;
};

}  // namespace plait::data
