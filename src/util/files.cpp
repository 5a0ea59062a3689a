#include "util/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.h"

namespace plait {

std::string file_kind(unsigned mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFIFO: return "a FIFO";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFSOCK: return "a socket";
    case S_IFLNK: return "a symbolic link";
    default: return "not a regular file";
  }
}

RegularFile::RegularFile(const std::string& path, const std::string& what, uint64_t max_bytes)
    : path_(path), what_(what) {
  const std::string name = what + " '" + path + "'";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw UsageError(name + (errno == ENOENT ? " does not exist" : " cannot be read: " +
                                                                        std::string(std::strerror(errno))));
  if (!S_ISREG(st.st_mode))
    throw UsageError(name + " is " + file_kind(st.st_mode) + ", not a regular file");
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) throw UsageError(name + " cannot be opened: " + std::strerror(errno));
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {  // swapped after the stat
    ::close(fd_);
    throw UsageError(name + " is " + file_kind(st.st_mode) + ", not a regular file");
  }
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ > max_bytes) {
    ::close(fd_);
    throw UsageError(name + " is " + std::to_string(size_) + " bytes, over the limit of " +
                     std::to_string(max_bytes) + " for " + what);
  }
}

RegularFile::~RegularFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::string RegularFile::read_all() const {
  std::string out(size_, '\0');
  read_into(out.data());
  return out;
}

void RegularFile::read_into(void* dst) const {
  char* out = static_cast<char*>(dst);
  size_t done = 0;
  while (done < size_) {
    const ssize_t got = ::pread(fd_, out + done, size_ - done, static_cast<off_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw UsageError(what_ + " '" + path_ + "' cannot be read: " + std::strerror(errno));
    if (got == 0) throw UsageError(what_ + " '" + path_ + "' shrank while being read");
    done += static_cast<size_t>(got);
  }
}

void require_regular_file(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw UsageError(what + " '" + path + "'" +
                     (errno == ENOENT ? " does not exist" : " cannot be read: " + std::string(std::strerror(errno))));
  if (!S_ISREG(st.st_mode))
    throw UsageError(what + " '" + path + "' is " + file_kind(st.st_mode) + ", not a regular file");
}

std::string read_regular_file(const std::string& path, const std::string& what, uint64_t max_bytes) {
  return RegularFile(path, what, max_bytes).read_all();
}

}  // namespace plait
