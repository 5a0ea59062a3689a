// Durable file-system primitives for the checkpoint commit protocol (POSIX).
// "Durable" means fsync'ed (a file: fdatasync'ed, its bytes and size; not its times):
// after the call returns, a power cut keeps the bytes.
// Failures throw RuntimeError naming the path and the OS's reason.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

namespace plait::fs {

// The largest manifest, part or config file read whole (a manifest of 10^5 files is
// a few MB).
inline constexpr uint64_t kMaxSmallFile = 64ull << 20;

// What opening a file that exists does with its bytes.
//   Truncate   O_TRUNC: the old bytes (and their blocks) go at once.
//   Overwrite  the new bytes are written over the old in place and close() cuts the file
//              to the new size: an overwrite of a file of the same size allocates no
//              block and frees none (a recycled checkpoint's files, fault/checkpoint.h);
//              until close() the file mixes new bytes and old ones.
enum class Existing { Truncate, Overwrite };

// A file opened for writing (created, or as `Existing` says); close() fsyncs before
// closing.
//
// Direct mode (for large files, e.g. a checkpoint's tensors): the bytes go to the disk
// with O_DIRECT in whole kDirectAlign blocks, straight from the caller's memory where
// it lies at the file's offset modulo kDirectAlign, else from an aligned staging
// buffer (the last partial block goes through the page cache), so the kernel neither copies them
// into its cache, nor walks dirty pages at fsync, nor evicts them when the file is
// deleted: the CPU a buffered write of a large file costs, mostly. The file's bytes and
// the fsync at close() are as in buffered mode. Where O_DIRECT is refused (a file
// system without it, EINVAL on open or on a write) the file falls back to buffered
// writes, silently: same bytes, same durability.
class DurableFile {
 public:
  enum class Mode { Buffered, Direct };
  explicit DurableFile(const std::filesystem::path& path, Mode mode = Mode::Buffered,
                       Existing existing = Existing::Truncate);
  ~DurableFile();  // closes without fsync if close() was never called (error paths)
  DurableFile(const DurableFile&) = delete;
  DurableFile& operator=(const DurableFile&) = delete;

  void write(const void* data, size_t n);
  void close();  // fdatasync, then close; the file's bytes are on disk when this returns
  size_t bytes_written() const { return written_; }
  // Whether write(p, n) would send (most of) these bytes to the disk straight from `p`,
  // without copying them: direct mode, and `p` lies at the file's offset modulo
  // kDirectAlign (so the whole blocks of [p, p+n) meet the file's block boundaries).
  bool without_copy(const void* p, size_t n) const;

 private:
  void write_fd(const std::byte* p, size_t n);  // all of it, at the file's offset
  void flush_staged(bool all);  // writes the staged whole blocks (and the tail if all)
  void leave_direct();          // clears O_DIRECT: buffered from here on

  std::filesystem::path path_;
  int fd_ = -1;
  size_t written_ = 0;  // bytes accepted by write() (staged or in the file)
  size_t old_size_ = 0;  // the file's size when opened (Existing::Overwrite; else 0)
  bool direct_ = false;
  std::shared_ptr<std::byte> stage_;  // kStageBytes, kDirectAlign-aligned (direct mode)
  size_t staged_ = 0;
};
// O_DIRECT's alignment of buffer addresses, sizes and file offsets (a multiple of the
// 512-byte sectors most devices need and of 4 KiB-sector devices'), and the staging
// buffer's size (a multiple of it).
inline constexpr size_t kDirectAlign = 4096;
inline constexpr size_t kStageBytes = 1 << 20;

// Writes `content` to path durably (no atomicity: use atomic_replace for that).
void write_file_durable(const std::filesystem::path& path, std::string_view content,
                        Existing existing = Existing::Truncate);
// fsync a directory, making the creations, renames and removals inside it durable.
void fsync_dir(const std::filesystem::path& dir);
// Atomically replaces path's content: write path.tmp, fsync it, rename over path,
// fsync the parent. Readers see either the old content or the new, never a mix.
// `before_rename` (if set) runs once path.tmp is durable (a test hook's place).
void atomic_replace(const std::filesystem::path& path, std::string_view content,
                    const std::function<void()>& before_rename = {});
// atomic_replace for a file replaced again and again (a run's `latest`): the new bytes
// are written over `spare` (a file this function keeps, created the first time) and it
// is renamed over `path`; the replaced content's inode, linked first under
// `spare`.old, becomes the next spare. So no replacement creates an inode or frees
// one (on ext4 each costs more than the rest together). Same guarantees as
// atomic_replace; `before_rename` runs once the spare is durable.
void atomic_replace_recycling(const std::filesystem::path& path, std::string_view content,
                              const std::filesystem::path& spare,
                              const std::function<void()>& before_rename = {});
// Writes `content` over path in place (created if missing, cut to size), NOT durably:
// for files only read back by a process of this run before a durable commit.
void overwrite_file(const std::filesystem::path& path, std::string_view content);
// rename(2), throwing RuntimeError with both names on failure.
void rename_path(const std::filesystem::path& from, const std::filesystem::path& to);
// The whole file as a string: a regular file of at most `max_bytes` (util/files.h);
// UsageError naming the path otherwise (missing, a FIFO or device, too large).
std::string read_file(const std::filesystem::path& path, uint64_t max_bytes = kMaxSmallFile);

}  // namespace plait::fs
