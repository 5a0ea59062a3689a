// Metrics as JSON lines (`--log FILE.jsonl`): one JSON object per line, flushed as
// soon as it is written, so a crashed or killed run keeps every line it logged and
// `tail -f` / pandas.read_json(lines=True) read it as it grows.
//
//   {"step":120,"loss":2.3412,"lr":0.0003,"tok_per_s":14213.0}
//
// Non-finite numbers become null (JSON has no NaN). write() is thread-safe.
#pragma once
#include <cstdio>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

namespace plait::obs {

class MetricsLog {
 public:
  MetricsLog() = default;  // disabled: write() does nothing
  // Opens `path` (truncating, or appending for a resumed run). Throws
  // plait::UsageError naming the file when it cannot be opened.
  explicit MetricsLog(const std::string& path, bool append = false);

  bool enabled() const { return file_ != nullptr; }
  const std::string& path() const { return path_; }

  // One line; throws plait::RuntimeError naming the file if the write fails.
  void write(const nlohmann::json& object);

 private:
  std::string path_;
  std::unique_ptr<FILE, int (*)(FILE*)> file_{nullptr, &std::fclose};
  std::mutex mutex_;
};

}  // namespace plait::obs
