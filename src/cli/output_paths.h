// Output paths a command writes (--log, --trace, --checkpoint-dir, --out, ...) are
// made ready BEFORE the command does its work: missing parent directories are
// created, and a path that cannot be written is a UsageError (exit 2) naming the
// flag and the path, instead of a failure after a whole training run.
#pragma once
#include <string>

namespace plait::cli {

// `path` is a file the command will create or overwrite (or append to).
// "" means the flag was not given: nothing to do.
void prepare_output_file(const std::string& path, const std::string& flag);

// `dir` is a directory the command will write into; it is created if missing.
void prepare_output_dir(const std::string& dir, const std::string& flag);

}  // namespace plait::cli
