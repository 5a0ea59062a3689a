#include "data/eval_windows.h"

#include <stdexcept>

#include "data/corpus.h"
#include "util/error.h"

namespace plait::data {

EvalWindows::EvalWindows(std::vector<uint8_t> bytes, int ctx, std::string name)
    : bytes_(std::move(bytes)), ctx_(ctx) {
  if (ctx < 1)
    throw UsageError("context length (ctx) must be at least 1, got " + std::to_string(ctx));
  if (count() == 0)
    throw UsageError("eval data '" + name + "' has " + std::to_string(bytes_.size()) +
                     " bytes; ctx " + std::to_string(ctx) +
                     " needs at least ctx+1 = " + std::to_string(ctx + 1));
}

EvalWindows EvalWindows::from_file(const std::string& path, int ctx) {
  return EvalWindows(read_file_bytes(path), ctx, path);
}

void EvalWindows::fill(int64_t first, int64_t n, int32_t* inputs, int32_t* targets) const {
  if (first < 0 || n < 0 || first + n > count())
    throw std::invalid_argument("EvalWindows::fill: windows [" + std::to_string(first) + ", " +
                                std::to_string(first + n) + ") outside [0, " +
                                std::to_string(count()) + ")");
  const int64_t stride = int64_t{ctx_} + 1;
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* src = bytes_.data() + (first + i) * stride;  // [ctx + 1]
    int32_t* in = inputs + i * ctx_;                            // [ctx]
    int32_t* tg = targets + i * ctx_;                           // [ctx]
    for (int t = 0; t < ctx_; ++t) {
      in[t] = src[t];
      tg[t] = src[t + 1];
    }
  }
}

}  // namespace plait::data
