#include "obs/metrics.h"

#include <cerrno>
#include <cstring>

#include "util/error.h"

namespace plait::obs {

MetricsLog::MetricsLog(const std::string& path, bool append)
    : path_(path), file_(std::fopen(path.c_str(), append ? "ab" : "wb"), &std::fclose) {
  if (!file_) throw UsageError("cannot open metrics log '" + path + "': " + std::strerror(errno));
}

void MetricsLog::write(const nlohmann::json& object) {
  if (!file_) return;
  // dump() escapes control characters, so the text holds no newline; invalid UTF-8
  // in strings is replaced rather than thrown.
  std::string line = object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  std::lock_guard<std::mutex> lock(mutex_);
  if (std::fwrite(line.data(), 1, line.size(), file_.get()) != line.size() ||
      std::fflush(file_.get()) != 0)
    throw RuntimeError("cannot write metrics log '" + path_ + "': " + std::strerror(errno));
}

}  // namespace plait::obs
