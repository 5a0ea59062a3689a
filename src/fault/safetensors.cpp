#include "fault/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "fault/fsutil.h"
#include "fault/hash.h"
#include "util/error.h"
#include "util/files.h"

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; plait reads and writes it by memcpy");

namespace plait::safetensors {
namespace {

using nlohmann::json;

struct DTypeRow {
  DType type;
  const char* name;
  size_t size;
};
constexpr DTypeRow kDTypes[] = {
    {DType::F64, "F64", 8}, {DType::F32, "F32", 4}, {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::I16, "I16", 2}, {DType::I8, "I8", 1},   {DType::U64, "U64", 8},
    {DType::U32, "U32", 4}, {DType::U16, "U16", 2}, {DType::U8, "U8", 1},
    {DType::BOOL, "BOOL", 1}};

const DTypeRow& row(DType t) {
  for (const auto& r : kDTypes)
    if (r.type == t) return r;
  throw std::invalid_argument("safetensors: unknown DType value");
}

// Headers above this are refused before allocating (the reference implementation's
// limit), so a corrupt length cannot ask for terabytes.
constexpr uint64_t kMaxHeader = 100'000'000;

std::string offsets_str(const TensorInfo& t) {
  std::string s = "[";  // (appends: GCC 12 -Wrestrict misfires on "[" + ...)
  s += std::to_string(t.begin);
  s += ", ";
  s += std::to_string(t.end);
  return s + ")";
}

}  // namespace

size_t dtype_size(DType t) { return row(t).size; }
const char* dtype_name(DType t) { return row(t).name; }

bool parse_dtype(const std::string& name, DType& out) {
  for (const auto& r : kDTypes)
    if (name == r.name) return out = r.type, true;
  return false;
}

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

TensorOut f32_tensor(std::string name, std::vector<int64_t> shape, std::span<const float> data) {
  return {std::move(name), DType::F32, std::move(shape), std::as_bytes(data)};
}

// ---- writing ----------------------------------------------------------------------

namespace {

uint64_t byte_size(const TensorSpec& t) {
  return static_cast<uint64_t>(numel(t.shape)) * dtype_size(t.dtype);
}

// The header JSON, padded with spaces so the data section starts 8-byte aligned.
std::string build_header(const std::vector<TensorSpec>& tensors,
                         const std::map<std::string, std::string>& metadata) {
  json h = json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__" || !seen.insert(t.name).second)
      throw std::invalid_argument("safetensors write: bad or duplicate tensor name '" + t.name + "'");
    const uint64_t need = byte_size(t);
    h[t.name] = {{"dtype", dtype_name(t.dtype)},
                 {"shape", t.shape},
                 {"data_offsets", {offset, offset + need}}};
    offset += need;
  }
  std::string s = h.dump();
  s.append((8 - s.size() % 8) % 8, ' ');  // 8 + N becomes a multiple of 8
  return s;
}

}  // namespace

uint64_t data_offset(const std::vector<TensorSpec>& tensors,
                     const std::map<std::string, std::string>& metadata) {
  return 8 + build_header(tensors, metadata).size();
}

// Files from this size on are written in the file's direct mode (fs::DurableFile:
// O_DIRECT from a staging buffer, no page cache to fill, flush and evict).
constexpr uint64_t kDirectFrom = fs::kStageBytes;
// put() writes and hashes in pieces of this size, so the hash reads bytes the write (a
// copy into the staging buffer or the page cache) has just brought into the cache.
constexpr size_t kPiece = 256 << 10;

struct StreamWriter::Impl {
  fs::DurableFile file;
  Xxh64 hash;
  uint64_t left = 0;  // data bytes still to come
  Impl(const std::filesystem::path& p, uint64_t size, bool overwrite)
      : file(p, size >= kDirectFrom ? fs::DurableFile::Mode::Direct : fs::DurableFile::Mode::Buffered,
             overwrite ? fs::Existing::Overwrite : fs::Existing::Truncate) {}
  void put(const void* data, size_t k) {
    const auto* p = static_cast<const std::byte*>(data);
    if (file.without_copy(p, k)) {  // the disk reads the bytes, the hash alone loads them
      file.write(p, k), hash.update(p, k);
      return;
    }
    for (size_t i = 0; i < k; i += kPiece) {
      const size_t n = std::min(kPiece, k - i);
      file.write(p + i, n), hash.update(p + i, n);
    }
  }
};

std::string header(const std::vector<TensorSpec>& tensors,
                   const std::map<std::string, std::string>& metadata) {
  return build_header(tensors, metadata);
}

static uint64_t total_bytes(const std::vector<TensorSpec>& tensors) {
  uint64_t n = 0;
  for (const auto& t : tensors) n += byte_size(t);
  return n;
}

StreamWriter::StreamWriter(const std::filesystem::path& path,
                           const std::vector<TensorSpec>& tensors,
                           const std::map<std::string, std::string>& metadata,
                           bool overwrite)
    : StreamWriter(path, build_header(tensors, metadata), total_bytes(tensors), overwrite) {}

StreamWriter::StreamWriter(const std::filesystem::path& path, const std::string& header,
                           uint64_t data_bytes, bool overwrite) {
  impl_ = std::make_unique<Impl>(path, 8 + header.size() + data_bytes, overwrite);
  uint8_t len[8];
  const uint64_t n = header.size();
  std::memcpy(len, &n, 8);  // little-endian host
  impl_->put(len, 8);
  impl_->put(header.data(), header.size());
  impl_->left = data_bytes;
}

StreamWriter::~StreamWriter() = default;

void StreamWriter::put(std::span<const std::byte> bytes) {
  if (bytes.size() > impl_->left)
    throw std::invalid_argument("safetensors write: more data than the tensors declare");
  impl_->left -= bytes.size();
  impl_->put(bytes.data(), bytes.size());
}

Written StreamWriter::close() {
  if (impl_->left != 0)
    throw std::invalid_argument("safetensors write: " + std::to_string(impl_->left) +
                                " bytes of tensor data missing at close");
  impl_->file.close();  // fsync
  return {impl_->file.bytes_written(), impl_->hash.digest()};
}

Written write_file(const std::filesystem::path& path, const std::vector<TensorOut>& tensors,
                   const std::map<std::string, std::string>& metadata, bool overwrite) {
  std::vector<TensorSpec> specs;
  for (const auto& t : tensors) {
    specs.push_back({t.name, t.dtype, t.shape});
    if (t.bytes.size() != byte_size(specs.back()))
      throw std::invalid_argument("safetensors write: tensor '" + t.name + "' has " +
                                  std::to_string(t.bytes.size()) + " bytes, its shape needs " +
                                  std::to_string(byte_size(specs.back())));
  }
  std::vector<std::span<const std::byte>> data;
  for (const auto& t : tensors) data.push_back(t.bytes);
  return write_file_with_header(path, build_header(specs, metadata), data, overwrite);
}

Written write_file_with_header(const std::filesystem::path& path, const std::string& header,
                               const std::vector<std::span<const std::byte>>& data, bool overwrite) {
  uint64_t bytes = 0;
  for (const auto& d : data) bytes += d.size();
  StreamWriter w(path, header, bytes, overwrite);
  // Tensors adjacent in memory (a checkpoint snapshot's) go out as one piece: few,
  // large writes.
  std::span<const std::byte> run;
  for (const auto& t : data) {
    if (!run.empty() && run.data() + run.size() == t.data()) {
      run = {run.data(), run.size() + t.size()};
      continue;
    }
    w.put(run);
    run = t;
  }
  w.put(run);
  return w.close();
}

// ---- reading ----------------------------------------------------------------------

Reader::Reader(const std::filesystem::path& path) : path_(path) {
  // Only a regular file (util/files.h): checked by name, opened without blocking (a
  // FIFO swapped in cannot hang the open), checked again on the descriptor.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) bad(std::string("cannot open: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) bad("is " + file_kind(st.st_mode) + ", not a regular file");
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) bad(std::string("cannot open: ") + std::strerror(errno));
  try {  // a refused file must not leak its descriptor (the destructor will not run)
    read_header();
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
}

void Reader::read_header() {
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) bad("is not a regular file");
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
  file_size_ = static_cast<uint64_t>(st.st_size);
  if (file_size_ < 8)
    bad("truncated file: " + std::to_string(file_size_) +
        " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  if (::pread(fd_, &n, 8, 0) != 8) bad("cannot read the header length");
  if (n > file_size_ - 8)
    bad("header length " + std::to_string(n) + " is larger than the file (" +
        std::to_string(file_size_) + " bytes)");
  if (n > kMaxHeader) bad("header length " + std::to_string(n) + " is over the 100 MB limit");
  std::string header(n, '\0');
  if (n > 0 && ::pread(fd_, header.data(), n, 8) != static_cast<ssize_t>(n))
    bad("cannot read the header");
  data_start_ = 8 + n;
  parse_header(header);
  check_tiling(file_size_ - data_start_);
}

Reader::~Reader() {
  if (fd_ >= 0) ::close(fd_);
}

Reader::Reader(Reader&& o) noexcept
    : path_(std::move(o.path_)), file_size_(o.file_size_), data_start_(o.data_start_),
      tensors_(std::move(o.tensors_)), index_(std::move(o.index_)),
      metadata_(std::move(o.metadata_)), fd_(o.fd_) {
  o.fd_ = -1;
}

void Reader::bad(const std::string& problem) const {
  throw UsageError("'" + path_.string() + "': " + problem);
}

namespace {

bool is_uint(const json& j) { return j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0); }

}  // namespace

void Reader::parse_header(const std::string& header) {
  json h = json::parse(header, nullptr, /*allow_exceptions=*/false);
  if (h.is_discarded()) bad("header is not JSON (garbage or a damaged file)");
  if (!h.is_object()) bad("header is JSON but not an object");
  for (auto& [key, val] : h.items()) {
    if (key == "__metadata__") {
      if (!val.is_object()) bad("__metadata__ is not an object");
      for (auto& [k, v] : val.items()) {
        if (!v.is_string()) bad("__metadata__ value of '" + k + "' is not a string");
        if (k.find('\0') != std::string::npos) bad("a __metadata__ key contains a NUL byte");
        metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    if (key.empty() || key.find('\0') != std::string::npos)
      bad("a tensor name is empty or contains a NUL byte: " + json(key).dump());
    const std::string where = "tensor '" + key + "'";
    if (!val.is_object()) bad(where + " is not an object");
    if (!val.contains("dtype") || !val["dtype"].is_string()) bad(where + " has no dtype");
    TensorInfo t;
    t.name = key;
    std::string dt = val["dtype"].get<std::string>();
    if (!parse_dtype(dt, t.dtype)) bad(where + " has unknown dtype '" + dt + "'");
    const json& shape = val.contains("shape") ? val["shape"] : json();
    if (!shape.is_array()) bad(where + " has no shape array");
    for (const auto& d : shape) {
      if (!is_uint(d)) bad(where + " has a shape entry that is not a non-negative integer");
      t.shape.push_back(d.get<int64_t>());
    }
    const json& off = val.contains("data_offsets") ? val["data_offsets"] : json();
    if (!off.is_array() || off.size() != 2 || !is_uint(off[0]) || !is_uint(off[1]))
      bad(where + " has no data_offsets [begin, end]");
    t.begin = off[0].get<uint64_t>();
    t.end = off[1].get<uint64_t>();
    if (t.end < t.begin) bad(where + " has data_offsets out of range: end before begin");
    uint64_t need = dtype_size(t.dtype);
    for (int64_t d : t.shape) {  // overflow-checked product: a corrupt shape cannot wrap
      if (d != 0 && need > (uint64_t(1) << 62) / static_cast<uint64_t>(d))
        bad(where + " has an impossibly large shape " + shape_str(t.shape));
      need *= static_cast<uint64_t>(d);
    }
    if (t.end - t.begin != need)
      bad(where + " has " + std::to_string(t.end - t.begin) + " bytes of data but shape " +
          shape_str(t.shape) + " of " + dt + " needs " + std::to_string(need));
    index_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }
}

// The tensors must tile [0, data_size) exactly (the format forbids holes).
void Reader::check_tiling(uint64_t data_size) const {
  std::vector<const TensorInfo*> order;
  for (const auto& t : tensors_) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t pos = 0;
  const TensorInfo* prev = nullptr;
  for (const TensorInfo* t : order) {
    if (t->end > data_size)
      bad("tensor '" + t->name + "' data_offsets " + offsets_str(*t) +
          " out of range: the data section has only " + std::to_string(data_size) +
          " bytes (truncated file?)");
    if (t->begin < pos)
      bad("tensors '" + prev->name + "' " + offsets_str(*prev) + " and '" + t->name + "' " +
          offsets_str(*t) + " overlap");
    if (t->begin > pos)
      bad("hole in the data section: bytes [" + std::to_string(pos) + ", " +
          std::to_string(t->begin) + ") belong to no tensor");
    pos = t->end;
    prev = t;
  }
  if (pos != data_size)
    bad(std::to_string(data_size - pos) + " trailing bytes after the last tensor's data");
}

const TensorInfo* Reader::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& Reader::expect(const std::string& name, DType dtype,
                                 const std::vector<int64_t>* shape) const {
  const TensorInfo* t = find(name);
  if (!t) bad("tensor '" + name + "' is missing");
  if (t->dtype != dtype)
    bad("tensor '" + name + "' is " + dtype_name(t->dtype) + ", expected " + dtype_name(dtype));
  if (shape && t->shape != *shape)
    bad("tensor '" + name + "' has shape " + shape_str(t->shape) + ", expected " +
        shape_str(*shape));
  return *t;
}

void Reader::read_bytes(const TensorInfo& t, std::span<std::byte> out) const {
  if (out.size() != t.end - t.begin)
    throw std::invalid_argument("safetensors read: buffer of " + std::to_string(out.size()) +
                                " bytes for tensor '" + t.name + "' of " +
                                std::to_string(t.end - t.begin));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t r = ::pread(fd_, out.data() + done, out.size() - done,
                        static_cast<off_t>(data_start_ + t.begin + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw RuntimeError("cannot read '" + path_.string() + "': " + std::strerror(errno));
    if (r == 0) bad("tensor '" + t.name + "' is cut short: the file shrank while reading");
    done += static_cast<size_t>(r);
  }
}

void Reader::read_f32(const std::string& name, const std::vector<int64_t>& shape,
                      std::span<float> out) const {
  const TensorInfo& t = expect(name, DType::F32, &shape);
  read_bytes(t, std::as_writable_bytes(out));
}

std::vector<float> Reader::read_f32(const std::string& name) const {
  const TensorInfo& t = expect(name, DType::F32);
  std::vector<float> v(static_cast<size_t>(numel(t.shape)));
  read_bytes(t, std::as_writable_bytes(std::span<float>(v)));
  return v;
}

std::vector<int32_t> Reader::read_i32(const std::string& name) const {
  const TensorInfo& t = expect(name, DType::I32);
  std::vector<int32_t> v(static_cast<size_t>(numel(t.shape)));
  read_bytes(t, std::as_writable_bytes(std::span<int32_t>(v)));
  return v;
}

}  // namespace plait::safetensors
