#include "fault/mapped_checkpoint.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "fault/safetensors.h"
#include "util/error.h"

namespace plait {

MappedCheckpoint::MappedCheckpoint(const LoadedCheckpoint& ck) try {
  std::vector<std::unique_ptr<safetensors::Reader>> readers;  // for the tensors' offsets
  std::vector<uint64_t> data_start;  // per file: where its data section begins
  for (const CheckpointFile& f : ck.files()) {
    const std::filesystem::path path = ck.dir() / f.file;
    readers.push_back(std::make_unique<safetensors::Reader>(path));
    const safetensors::Reader& r = *readers.back();
    uint64_t data = 0;  // the data section's size: its tensors tile it (the Reader checks)
    for (const auto& t : r.tensors()) data = std::max(data, t.end);
    data_start.push_back(r.file_size() - data);
    Map m;
    m.bytes = r.file_size();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw RuntimeError("cannot open " + path.string() + ": " + std::strerror(errno));
    m.base = ::mmap(nullptr, m.bytes, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    const int err = errno;
    ::close(fd);
    if (m.base == MAP_FAILED) throw RuntimeError("cannot map " + path.string() + ": " + std::strerror(err));
    maps_.push_back(m);
  }
  for (const auto& [name, en] : ck.tensors()) {
    if (en.shards.size() != 1) continue;
    const TensorShard& s = en.shards[0];
    const bool all = std::all_of(s.begin.begin(), s.begin.end(), [](int64_t b) { return b == 0; }) &&
                     s.end == en.shape;
    const safetensors::TensorInfo* t = readers[s.file]->find(s.key);
    if (!all || !t || t->dtype != safetensors::DType::F32) continue;
    const auto* at = static_cast<const std::byte*>(maps_[s.file].base) + data_start[s.file] + t->begin;
    whole_[name] = std::span<const float>(reinterpret_cast<const float*>(at),
                                          (t->end - t->begin) / sizeof(float));
  }
} catch (...) {
  for (const Map& m : maps_) ::munmap(m.base, m.bytes);
  throw;
}

MappedCheckpoint::~MappedCheckpoint() {
  for (const Map& m : maps_) ::munmap(m.base, m.bytes);
}

std::span<const float> MappedCheckpoint::whole(const std::string& name) const {
  const auto it = whole_.find(name);
  return it == whole_.end() ? std::span<const float>() : it->second;
}

}  // namespace plait
