// XXH64 moved to util/hash.h (data/ checksums token shards with it too).
#pragma once
#include "util/hash.h"
