#include "infer/kv_cache.h"

namespace plait::infer {

KvCache::KvCache(int layers, int slots, int ctx, int C)
    : layers_(layers), slots_(slots), ctx_(ctx), C_(C) {
  const size_t n = static_cast<size_t>(layers) * slots * ctx * C;
  k_.assign(n, 0.0f);
  v_.assign(n, 0.0f);
}

}  // namespace plait::infer
