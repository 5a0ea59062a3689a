#include "fault/fsutil.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "util/error.h"
#include "util/files.h"

namespace plait::fs {
namespace {

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& p) {
  throw RuntimeError(what + " '" + p.string() + "': " + std::strerror(errno));
}

}  // namespace

namespace {

// Staging buffers of direct-mode files, kept for reuse: a checkpoint every step must
// not allocate and fault in a fresh MiB per file. The pool is never destroyed (a
// writer thread may hand its buffer back while the process exits).
struct StagePool {
  std::mutex mutex;
  std::vector<std::byte*> free;
};
StagePool& stage_pool() {
  static StagePool* pool = new StagePool;
  return *pool;
}

std::shared_ptr<std::byte> acquire_stage() {
  StagePool& pool = stage_pool();
  std::byte* b = nullptr;
  {
    std::lock_guard lock(pool.mutex);
    if (!pool.free.empty()) b = pool.free.back(), pool.free.pop_back();
  }
  if (b == nullptr) b = static_cast<std::byte*>(std::aligned_alloc(kDirectAlign, kStageBytes));
  if (b == nullptr) throw std::bad_alloc();
  return std::shared_ptr<std::byte>(b, [](std::byte* p) {
    StagePool& pool = stage_pool();
    std::lock_guard lock(pool.mutex);
    if (pool.free.size() < 8) pool.free.push_back(p);
    else std::free(p);
  });
}

}  // namespace

DurableFile::DurableFile(const std::filesystem::path& path, Mode mode, Existing existing)
    : path_(path) {
  // O_NOFOLLOW: a symbolic link planted under a name plait writes is never written
  // through; the mode is 0644 whatever the umask.
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
                    (existing == Existing::Truncate ? O_TRUNC : 0);
  if (mode == Mode::Direct) {
    stage_ = acquire_stage();
    fd_ = ::open(path.c_str(), flags | O_DIRECT, 0644);
    if (fd_ >= 0) direct_ = true;
    else if (errno != EINVAL) fail("cannot create", path);  // EINVAL: no O_DIRECT here
  }
  if (fd_ < 0) fd_ = ::open(path.c_str(), flags, 0644);
  if (fd_ < 0) fail("cannot create", path);
  ::fchmod(fd_, 0644);
  if (existing == Existing::Overwrite) {
    struct stat st;
    if (::fstat(fd_, &st) != 0) fail("cannot stat", path);
    old_size_ = static_cast<size_t>(st.st_size);
  }
}

DurableFile::~DurableFile() {
  if (fd_ >= 0) ::close(fd_);
}

void DurableFile::leave_direct() {
  if (!direct_) return;
  const int fl = ::fcntl(fd_, F_GETFL);
  if (fl < 0 || ::fcntl(fd_, F_SETFL, fl & ~O_DIRECT) != 0) fail("cannot clear O_DIRECT on", path_);
  direct_ = false;
}

void DurableFile::write_fd(const std::byte* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EINVAL && direct_) {  // this file system refuses O_DIRECT here
      leave_direct();
      continue;
    }
    if (w < 0) fail("cannot write", path_);
    p += w, n -= static_cast<size_t>(w);
    if (n % kDirectAlign != 0) leave_direct();  // a short write: the rest is unaligned
  }
}

// Whole blocks go out as they are (with O_DIRECT in direct mode); with `all`, the last
// partial block too, through the page cache (O_DIRECT needs whole blocks).
void DurableFile::flush_staged(bool all) {
  const size_t whole = staged_ / kDirectAlign * kDirectAlign;
  write_fd(stage_.get(), whole);
  const size_t rest = staged_ - whole;
  if (rest > 0 && all) {
    leave_direct();
    write_fd(stage_.get() + whole, rest);
    staged_ = 0;
    return;
  }
  if (rest > 0) std::memmove(stage_.get(), stage_.get() + whole, rest);
  staged_ = rest;
}

bool DurableFile::without_copy(const void* p, size_t n) const {
  return direct_ && n >= kDirectAlign &&
         (reinterpret_cast<uintptr_t>(p) - staged_) % kDirectAlign == 0;
}

void DurableFile::write(const void* data, size_t n) {
  const auto* p = static_cast<const std::byte*>(data);
  written_ += n;
  if (!stage_) return write_fd(p, n);
  if (without_copy(p, n)) {
    // Top the staged bytes up to a block boundary, write them, then the caller's
    // whole blocks from where they are (staged_ starts at a block boundary of the file).
    const size_t head = std::min(n, (kDirectAlign - staged_ % kDirectAlign) % kDirectAlign);
    std::memcpy(stage_.get() + staged_, p, head);
    staged_ += head, p += head, n -= head;
    flush_staged(false);
    const size_t whole = n / kDirectAlign * kDirectAlign;
    write_fd(p, whole);
    p += whole, n -= whole;
  }
  while (n > 0) {  // through the staging buffer: aligned, whole blocks for O_DIRECT
    const size_t take = std::min(n, kStageBytes - staged_);
    std::memcpy(stage_.get() + staged_, p, take);
    staged_ += take, p += take, n -= take;
    if (staged_ == kStageBytes) flush_staged(false);
  }
}

void DurableFile::close() {
  if (stage_) flush_staged(true), stage_.reset();
  // an overwritten file longer than the new bytes: cut its old tail (writes past the
  // old end have grown it to the new size already)
  if (old_size_ > written_ && ::ftruncate(fd_, static_cast<off_t>(written_)) != 0)
    fail("cannot truncate", path_);
  // fdatasync: the bytes and what reading them back needs (size, block map) are
  // durable; only the timestamps may be older after a crash. Saves a write of the inode
  // per file where only its times changed (a file overwritten in place).
  if (::fdatasync(fd_) != 0) fail("cannot fsync", path_);
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("cannot close", path_);
}

void write_file_durable(const std::filesystem::path& path, std::string_view content,
                        Existing existing) {
  DurableFile f(path, DurableFile::Mode::Buffered, existing);
  f.write(content.data(), content.size());
  f.close();
}

void fsync_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("cannot open directory", dir);
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) fail("cannot fsync directory", dir);
}

void rename_path(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0)
    throw RuntimeError("cannot rename '" + from.string() + "' to '" + to.string() +
                       "': " + std::strerror(errno));
}

void atomic_replace(const std::filesystem::path& path, std::string_view content,
                    const std::function<void()>& before_rename) {
  auto tmp = path;
  tmp += ".tmp";
  ::unlink(tmp.c_str());             // a leftover, or a planted symbolic link: its own name only
  write_file_durable(tmp, content);  // 1. the new bytes are on disk under a temp name
  if (before_rename) before_rename();
  rename_path(tmp, path);            // 2. atomic switch of the name
  auto parent = path.parent_path();
  fsync_dir(parent.empty() ? "." : parent);  // 3. the rename itself is durable
}

void atomic_replace_recycling(const std::filesystem::path& path, std::string_view content,
                              const std::filesystem::path& spare,
                              const std::function<void()>& before_rename) {
  struct stat st;
  if (::lstat(spare.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    ::unlink(spare.c_str());  // a planted symbolic link or the like: its own name only
  write_file_durable(spare, content, Existing::Overwrite);  // 1. the new bytes, durable
  if (before_rename) before_rename();
  auto old = spare;
  old += ".old";
  bool kept = ::link(path.c_str(), old.c_str()) == 0;  // ENOENT: the first replacement
  if (!kept && errno == EEXIST) {  // a leftover of a crash between link and rename
    ::unlink(old.c_str());
    kept = ::link(path.c_str(), old.c_str()) == 0;
  }
  rename_path(spare, path);                  // 2. atomic switch of the name
  if (kept) rename_path(old, spare);         // the replaced inode: the next spare
  auto parent = path.parent_path();
  fsync_dir(parent.empty() ? "." : parent);  // 3. the rename itself is durable
}

void overwrite_file(const std::filesystem::path& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) fail("cannot create", path);
  const char* p = content.data();
  size_t n = content.size();
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      const int e = errno;
      ::close(fd);
      errno = e;
      fail("cannot write", path);
    }
    p += w, n -= static_cast<size_t>(w);
  }
  if (::ftruncate(fd, static_cast<off_t>(content.size())) != 0 || ::close(fd) != 0)
    fail("cannot write", path);
}

std::string read_file(const std::filesystem::path& path, uint64_t max_bytes) {
  return read_regular_file(path.string(), "file", max_bytes);
}

}  // namespace plait::fs
