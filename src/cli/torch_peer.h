// The PyTorch peer (tools/torch_gpt.py, run with the system's /usr/bin/python3) that
// `bench train` and `bench sample` measure against: finding it and checking it can run.
#pragma once
#include <string>

namespace plait::cli {

// The peer script: `given` (UsageError when it does not exist), else the repository's
// tools/torch_gpt.py beside this binary's build directory or under the working
// directory; "" when given is "none" or none is found.
std::string find_peer(const std::string& given);

// "" when the peer can run here, else why not (one line).
std::string peer_unavailable(const std::string& peer);

}  // namespace plait::cli
