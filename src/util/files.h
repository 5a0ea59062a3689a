// Reading a file plait was given (a corpus, a manifest, a tokenizer, a plan input):
// only a regular file is read. A FIFO, a device (/dev/zero, /dev/urandom), a socket or
// a directory is refused with one line, because reading one may block forever or never
// end; the size is bounded before a byte is read. The name is checked with stat, then
// opened with O_NONBLOCK (a FIFO swapped in after the check cannot block the open) and
// checked again with fstat on the descriptor actually read. docs/SECURITY.md.
#pragma once
#include <cstdint>
#include <string>

namespace plait {

// A descriptor of a regular file of at most `max_bytes` bytes, opened for reading
// (O_CLOEXEC, blocking reads); closed by the destructor. UsageError "WHAT 'PATH' ..."
// (missing, not a regular file, too large, unreadable).
class RegularFile {
 public:
  RegularFile(const std::string& path, const std::string& what, uint64_t max_bytes);
  ~RegularFile();
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;
  int fd() const { return fd_; }
  uint64_t size() const { return size_; }
  // The whole file (its size as of the open; a file that shrinks is an error).
  std::string read_all() const;
  void read_into(void* out) const;  // size() bytes

 private:
  std::string path_, what_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// RegularFile(path, what, max_bytes).read_all().
std::string read_regular_file(const std::string& path, const std::string& what, uint64_t max_bytes);

// UsageError "WHAT 'PATH' does not exist" / "... is a FIFO, not a regular file".
void require_regular_file(const std::string& path, const std::string& what);

// The kind of a non-regular file for messages: "a FIFO", "a character device", ...
std::string file_kind(unsigned mode);

}  // namespace plait
