#include "data/eval_windows.h"

#include <algorithm>
#include <stdexcept>

#include "data/corpus.h"
#include "util/error.h"

namespace plait::data {

EvalWindows::EvalWindows(std::vector<uint8_t> bytes, int ctx, std::string name)
    : EvalWindows(Tokens::from_bytes(std::move(bytes)), ctx, std::move(name)) {}

EvalWindows::EvalWindows(Tokens tokens, int ctx, std::string name)
    : tokens_(std::move(tokens)), ctx_(ctx) {
  if (ctx < 1)
    throw UsageError("context length (ctx) must be at least 1, got " + std::to_string(ctx));
  if (count() == 0)
    throw UsageError(name + " has " + std::to_string(tokens_.size()) +
                     (tokens_.width() == 1 ? " bytes; ctx " : " tokens; ctx ") + std::to_string(ctx) +
                     " needs at least ctx+1 = " + std::to_string(ctx + 1));
}

EvalWindows EvalWindows::from_file(const std::string& path, int ctx) {
  return EvalWindows(read_file_bytes(path), ctx, "eval data '" + path + "'");
}

void EvalWindows::fill(int64_t first, int64_t n, int32_t* inputs, int32_t* targets) const {
  if (first < 0 || n < 0 || first + n > count())
    throw std::invalid_argument("EvalWindows::fill: windows [" + std::to_string(first) + ", " +
                                std::to_string(first + n) + ") outside [0, " +
                                std::to_string(count()) + ")");
  const int64_t stride = int64_t{ctx_} + 1;
  for (int64_t i = 0; i < n; ++i) {
    int32_t* in = inputs + i * ctx_;   // [ctx]
    int32_t* tg = targets + i * ctx_;  // [ctx]
    const int64_t at = (first + i) * stride;
    tokens_.read(at, ctx_, in);
    std::copy(in + 1, in + ctx_, tg);
    tg[ctx_ - 1] = tokens_.at(at + ctx_);
  }
}

}  // namespace plait::data
