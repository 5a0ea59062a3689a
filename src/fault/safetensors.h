// The safetensors file format (https://github.com/huggingface/safetensors), read and
// written without any library beyond nlohmann-json:
//
//   bytes [0, 8)        N, the header length: unsigned 64-bit little-endian
//   bytes [8, 8+N)      the header: a UTF-8 JSON object
//                         "NAME": {"dtype": "F32", "shape": [d0, d1, ...],
//                                  "data_offsets": [begin, end]}      per tensor
//                         "__metadata__": {"key": "value", ...}      strings only
//                       padded with trailing spaces so 8+N is a multiple of 8
//   bytes [8+N, EOF)    the data section: each tensor's raw little-endian row-major
//                       bytes at [8+N+begin, 8+N+end)
//
// Invariants checked on load (each violation is a UsageError whose one-line message
// names the file and the problem): the file holds the 8-byte length; N fits in the
// file; the header is a JSON object; every dtype is known; every tensor's byte count
// equals its shape's element count times the dtype size; the tensors tile the data
// section exactly: no overlap, no hole, nothing past the end (truncated file) and
// nothing left over after the last tensor.
//
// Only little-endian hosts are supported (static_assert in the .cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace plait::safetensors {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL };

size_t dtype_size(DType t);
const char* dtype_name(DType t);
// false if `name` is not a safetensors dtype
bool parse_dtype(const std::string& name, DType& out);

int64_t numel(const std::vector<int64_t>& shape);  // 1 for a scalar (shape [])
std::string shape_str(const std::vector<int64_t>& shape);  // "[3, 4]"

// One tensor to write: `bytes` holds numel(shape) * dtype_size(dtype) bytes.
struct TensorOut {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::span<const std::byte> bytes;
};
TensorOut f32_tensor(std::string name, std::vector<int64_t> shape, std::span<const float> data);

struct Written {
  uint64_t bytes = 0;  // file size
  uint64_t xxh64 = 0;  // XXH64 of the whole file (fault/hash.h)
};
// Writes a safetensors file and fsyncs it (not atomic by itself: callers write under a
// temporary name). Tensors are stored in the order given. std::invalid_argument for a
// malformed request (duplicate or empty name, byte count not matching the shape).
// `overwrite`: a file already at `path` is written over in place and cut to the new
// size at the end (fs::Existing::Overwrite), not truncated first.
Written write_file(const std::filesystem::path& path, const std::vector<TensorOut>& tensors,
                   const std::map<std::string, std::string>& metadata, bool overwrite = false);

// What a streamed file will hold: the header is written first, from these alone.
struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
};

// The header write_file writes for these tensors and metadata (JSON padded with spaces
// to a multiple of 8 bytes with the length before it); same exceptions as write_file.
std::string header(const std::vector<TensorSpec>& tensors,
                   const std::map<std::string, std::string>& metadata);
// write_file with the header already built (header(), or a copy of one kept across
// files that differ only in a metadata value: fault/checkpoint.cpp): the length, the
// header, then `data`'s pieces in order (numel x dtype bytes of every tensor, as the
// header declares; not checked here). Same bytes as write_file.
Written write_file_with_header(const std::filesystem::path& path, const std::string& header,
                               const std::vector<std::span<const std::byte>>& data,
                               bool overwrite = false);

// Where the data section of the file write_file / StreamWriter writes for these tensors
// and metadata starts: 8 + the padded header's length (a multiple of 8). A caller that
// places the tensors' bytes in memory at this offset modulo fs::kDirectAlign lets the
// file's direct writes take them without a copy (fs::DurableFile). Same exceptions as
// write_file for a malformed request.
uint64_t data_offset(const std::vector<TensorSpec>& tensors,
                     const std::map<std::string, std::string>& metadata);

// Writes a safetensors file without holding its tensors: the constructor writes the
// header (every offset follows from the specs), then put() appends the data section
// in spec order, in pieces of any size, so memory stays at what the caller holds.
// close() checks that exactly the declared bytes came and fsyncs. Same
// std::invalid_argument rules as write_file; RuntimeError on I/O failure.
class StreamWriter {
 public:
  StreamWriter(const std::filesystem::path& path, const std::vector<TensorSpec>& tensors,
               const std::map<std::string, std::string>& metadata, bool overwrite = false);
  // With the header built by header(); `data_bytes`: the sum of the tensors' bytes.
  StreamWriter(const std::filesystem::path& path, const std::string& header,
               uint64_t data_bytes, bool overwrite = false);
  ~StreamWriter();
  StreamWriter(const StreamWriter&) = delete;
  StreamWriter& operator=(const StreamWriter&) = delete;
  void put(std::span<const std::byte> bytes);
  Written close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data section
};

// An open, validated safetensors file. Tensor data is read on demand with pread, so
// one Reader may serve several threads at once.
class Reader {
 public:
  explicit Reader(const std::filesystem::path& path);  // validates (see above)
  ~Reader();
  Reader(Reader&& o) noexcept;
  Reader& operator=(Reader&&) = delete;
  Reader(const Reader&) = delete;

  const std::filesystem::path& path() const { return path_; }
  uint64_t file_size() const { return file_size_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in header order
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorInfo* find(const std::string& name) const;  // nullptr if absent

  // The named tensor, checked: present, of this dtype, and (unless `shape` is null)
  // of exactly this shape; UsageError naming the file and the tensor otherwise.
  const TensorInfo& expect(const std::string& name, DType dtype,
                           const std::vector<int64_t>* shape = nullptr) const;
  // Raw bytes of a tensor; out.size() must be end - begin.
  void read_bytes(const TensorInfo& t, std::span<std::byte> out) const;
  // Copies an F32 tensor into out (out.size() must equal the element count).
  void read_f32(const std::string& name, const std::vector<int64_t>& shape,
                std::span<float> out) const;
  std::vector<float> read_f32(const std::string& name) const;    // any shape
  std::vector<int32_t> read_i32(const std::string& name) const;  // any shape

 private:
  [[noreturn]] void bad(const std::string& problem) const;
  void read_header();  // the constructor's checks, once the file is open
  void parse_header(const std::string& header);
  void check_tiling(uint64_t data_size) const;

  std::filesystem::path path_;
  uint64_t file_size_ = 0;
  uint64_t data_start_ = 0;  // 8 + N
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
  int fd_ = -1;
};

}  // namespace plait::safetensors
