// Child processes started with an argument vector (posix_spawnp), never through a
// shell: an argument is passed to the program as one string whatever it contains,
// so `--peer 'x;touch PWNED;#'` names a file, it does not run a command.
#pragma once
#include <string>
#include <vector>

namespace plait {

struct ProcessResult {
  int exit_code = -1;  // the exit status, or 128 + the signal that ended the child
  std::string out;     // everything the child wrote to stdout (stderr is inherited)
};

// Runs argv[0] (looked up in PATH when it has no '/') with arguments argv[1..],
// waits for it and returns its stdout. Throws RuntimeError when it cannot be
// started (naming the program).
ProcessResult run_process(const std::vector<std::string>& argv);

// argv as one line for messages (arguments with spaces or quotes are single-quoted).
std::string argv_text(const std::vector<std::string>& argv);

}  // namespace plait
