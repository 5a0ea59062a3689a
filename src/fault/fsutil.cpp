#include "fault/fsutil.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "util/error.h"
#include "util/files.h"

namespace plait::fs {
namespace {

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& p) {
  throw RuntimeError(what + " '" + p.string() + "': " + std::strerror(errno));
}

}  // namespace

DurableFile::DurableFile(const std::filesystem::path& path) : path_(path) {
  // O_NOFOLLOW: a symbolic link planted under a name plait writes is never written
  // through; the mode is 0644 whatever the umask.
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd_ < 0) fail("cannot create", path);
  ::fchmod(fd_, 0644);
}

DurableFile::~DurableFile() {
  if (fd_ >= 0) ::close(fd_);
}

void DurableFile::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) fail("cannot write", path_);
    p += w, n -= static_cast<size_t>(w), written_ += static_cast<size_t>(w);
  }
}

void DurableFile::close() {
  if (::fsync(fd_) != 0) fail("cannot fsync", path_);
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("cannot close", path_);
}

void write_file_durable(const std::filesystem::path& path, std::string_view content) {
  DurableFile f(path);
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

std::string read_file(const std::filesystem::path& path, uint64_t max_bytes) {
  return read_regular_file(path.string(), "file", max_bytes);
}

}  // namespace plait::fs
