// Durable file-system primitives for the checkpoint commit protocol (POSIX).
// "Durable" means fsync'ed: after the call returns, a power cut keeps the bytes.
// Failures throw RuntimeError naming the path and the OS's reason.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string_view>

namespace plait::fs {

// The largest manifest, part or config file read whole (a manifest of 10^5 files is
// a few MB).
inline constexpr uint64_t kMaxSmallFile = 64ull << 20;

// A file opened for writing (created or truncated); close() fsyncs before closing.
class DurableFile {
 public:
  explicit DurableFile(const std::filesystem::path& path);
  ~DurableFile();  // closes without fsync if close() was never called (error paths)
  DurableFile(const DurableFile&) = delete;
  DurableFile& operator=(const DurableFile&) = delete;

  void write(const void* data, size_t n);
  void close();  // fsync, then close; the file's bytes are on disk when this returns
  size_t bytes_written() const { return written_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  size_t written_ = 0;
};

// Writes `content` to path durably (no atomicity: use atomic_replace for that).
void write_file_durable(const std::filesystem::path& path, std::string_view content);
// fsync a directory, making the creations, renames and removals inside it durable.
void fsync_dir(const std::filesystem::path& dir);
// Atomically replaces path's content: write path.tmp, fsync it, rename over path,
// fsync the parent. Readers see either the old content or the new, never a mix.
// `before_rename` (if set) runs once path.tmp is durable (a test hook's place).
void atomic_replace(const std::filesystem::path& path, std::string_view content,
                    const std::function<void()>& before_rename = {});
// rename(2), throwing RuntimeError with both names on failure.
void rename_path(const std::filesystem::path& from, const std::filesystem::path& to);
// The whole file as a string: a regular file of at most `max_bytes` (util/files.h);
// UsageError naming the path otherwise (missing, a FIFO or device, too large).
std::string read_file(const std::filesystem::path& path, uint64_t max_bytes = kMaxSmallFile);

}  // namespace plait::fs
