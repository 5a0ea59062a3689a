// Opening a checkpoint: every check the format allows, each failing with a one-line
// UsageError naming the file and the problem; then assembling tensor boxes from shards.
#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "fault/checkpoint.h"
#include "fault/checkpoint_names.h"
#include "fault/finite.h"
#include "fault/fsutil.h"
#include "fault/hash.h"
#include "util/error.h"

namespace plait {
namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;
using Box = std::vector<int64_t>;

std::string box_str(const Box& b, const Box& e) {
  std::string s;
  for (size_t k = 0; k < b.size(); ++k) {  // (appends: GCC 12 -Wrestrict misfires on "[" + ...)
    s += '[';
    s += std::to_string(b[k]);
    s += ':';
    s += std::to_string(e[k]);
    s += ')';
  }
  return s.empty() ? "[]" : s;
}

int64_t volume(const Box& b, const Box& e) {
  int64_t v = 1;
  for (size_t k = 0; k < b.size(); ++k) v *= e[k] - b[k];
  return v;
}

// The intersection of boxes [b1,e1) and [b2,e2); false if empty.
bool intersect(const Box& b1, const Box& e1, const Box& b2, const Box& e2, Box& b, Box& e) {
  b.resize(b1.size()), e.resize(b1.size());
  for (size_t k = 0; k < b1.size(); ++k) {
    b[k] = std::max(b1[k], b2[k]);
    e[k] = std::min(e1[k], e2[k]);
    if (b[k] >= e[k]) return false;
  }
  return true;
}

// An integer in [lo, hi], read exactly: 2^32 + 1 is not 1, 2^64 - 1 is not -1.
bool exact_int(const json& j, int64_t lo, int64_t hi, int64_t& out) {
  if (j.is_number_unsigned()) {
    if (j.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) return false;
    out = static_cast<int64_t>(j.get<uint64_t>());
  } else if (j.is_number_integer()) {
    out = j.get<int64_t>();
  } else {
    return false;
  }
  return lo <= out && out <= hi;
}

// The largest tensor a checkpoint may describe (2^40 floats, 4 TiB): shapes whose
// product would wrap 64 bits are refused before any volume is computed.
constexpr int64_t kMaxElements = int64_t(1) << 40;

bool bounded_volume(const Box& shape) {
  int64_t v = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && v > kMaxElements / d)) return false;
    v *= d;
  }
  return v <= kMaxElements;
}

bool int_array(const json& j, Box& out) {
  if (!j.is_array()) return false;
  out.clear();
  for (const auto& x : j) {
    int64_t v = 0;
    if (!exact_int(x, 0, kMaxElements, v)) return false;
    out.push_back(v);
  }
  return out.size() <= 8;
}

// Whether tensor `ka` of file a and `kb` of file b hold the same bytes.
bool same_bytes(const safetensors::Reader& a, const std::string& ka, const safetensors::Reader& b,
                const std::string& kb) {
  const safetensors::TensorInfo& ta = *a.find(ka);
  const safetensors::TensorInfo& tb = *b.find(kb);
  if (ta.end - ta.begin != tb.end - tb.begin) return false;
  std::vector<std::byte> x(ta.end - ta.begin), y(x.size());
  a.read_bytes(ta, x);
  b.read_bytes(tb, y);
  return x == y;
}

// Whether `key` may store a box of tensor `of`: it is `of` itself, or `of` + "@N"
// (N >= 1, decimal; the writer's later boxes of one tensor in one file). Tensor names
// never contain '@' (the writer refuses them).
bool is_box_key(const std::string& key, const std::string& of) {
  if (of.empty() || of.find(ckpt::kBoxSeparator) != std::string::npos) return false;
  if (key == of) return true;
  if (key.size() < of.size() + 2 || key.compare(0, of.size(), of) != 0 ||
      key[of.size()] != ckpt::kBoxSeparator || key[of.size() + 1] == '0')
    return false;
  return std::all_of(key.begin() + static_cast<long>(of.size()) + 1, key.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

// Copies the box of extents `ext` from src (shape ss, starting at sb) to dst (shape
// ds, starting at db). Row-major; the innermost dimension is one memcpy.
void copy_box(const float* src, const Box& ss, const Box& sb, float* dst, const Box& ds,
              const Box& db, const Box& ext) {
  const size_t rank = ext.size();
  if (rank == 0) { *dst = *src; return; }
  Box sstride(rank, 1), dstride(rank, 1);
  for (size_t k = rank - 1; k > 0; --k) {
    sstride[k - 1] = sstride[k] * ss[k];
    dstride[k - 1] = dstride[k] * ds[k];
  }
  auto rec = [&](auto& self, size_t k, int64_t so, int64_t dof) -> void {
    so += sb[k] * sstride[k];
    dof += db[k] * dstride[k];
    if (k + 1 == rank) {
      std::memcpy(dst + dof, src + so, static_cast<size_t>(ext[k]) * sizeof(float));
      return;
    }
    for (int64_t i = 0; i < ext[k]; ++i)
      self(self, k + 1, so + i * sstride[k], dof + i * dstride[k]);
  };
  rec(rec, 0, 0, 0);
}

// The box a "slice.<key>" entry gives the tensor stored under t.name, and the full
// tensor it belongs to ("of": the key itself, or the key less its "@N" suffix).
void parse_slice(const safetensors::TensorInfo& t, const std::string& entry,
                 const stdfs::path& file, std::string& name, Box& full, Box& b, Box& e) {
  auto fbad = [&](const std::string& why) {
    throw UsageError("'" + file.string() + "': " + why);
  };
  const std::string where = "tensor '" + t.name + "'";
  json j = json::parse(entry, nullptr, false);
  bool ok = j.is_object() && int_array(j.value("full_shape", json()), full) &&
            int_array(j.value("begin", json()), b) && int_array(j.value("end", json()), e) &&
            full.size() == t.shape.size() && b.size() == full.size() && e.size() == full.size();
  for (size_t k = 0; ok && k < full.size(); ++k)
    ok = b[k] <= e[k] && e[k] <= full[k] && e[k] - b[k] == t.shape[k];
  if (!ok) fbad(where + " has a slice entry that does not fit its shape: " + entry);
  if (!bounded_volume(full))
    fbad(where + " has a full shape past 2^40 elements: " + safetensors::shape_str(full));
  if (!j.contains("of")) return;
  const json& of = j["of"];
  if (!of.is_string() || !is_box_key(t.name, of.get<std::string>()))
    fbad(where + " has a malformed \"of\": " + of.dump() + " (the key must be it or it + \"@N\")");
  name = of.get<std::string>();
}

}  // namespace

void LoadedCheckpoint::bad(const std::string& problem) const {
  throw UsageError("checkpoint '" + dir_.string() + "': " + problem);
}

// ---- the manifest ---------------------------------------------------------------

void LoadedCheckpoint::parse_manifest() {
  const stdfs::path mpath = dir_ / ckpt::kManifest;
  if (!stdfs::exists(mpath)) bad("no manifest.json (an incomplete or damaged checkpoint)");
  if (stdfs::is_symlink(mpath)) bad("manifest.json is a symbolic link; a checkpoint holds its own files only");
  manifest_ = json::parse(fs::read_file(mpath), nullptr, /*allow_exceptions=*/false);
  auto mbad = [&](const std::string& why) {
    throw UsageError("'" + mpath.string() + "': " + why);
  };
  if (manifest_.is_discarded()) mbad("not JSON (garbage or a damaged file)");
  if (!manifest_.is_object()) mbad("not a JSON object");
  const json& format = manifest_.value("format", json());
  if (!format.is_string() || format.get<std::string>() != ckpt::kFormatName)
    mbad(std::string("'format' is not \"") + ckpt::kFormatName + "\"");
  const json& version = manifest_.value("version", json());
  int64_t v = 0;
  if (!exact_int(version, kCheckpointFormatVersion, kCheckpointFormatVersion, v))
    mbad("format version " + version.dump() + " is not supported (this plait reads version " +
         std::to_string(kCheckpointFormatVersion) + ")");
  auto need = [&](const char* key, bool ok) {
    if (!manifest_.contains(key) || !ok) mbad(std::string("missing or malformed '") + key + "'");
  };
  int64_t step = 0, world = 0;
  need("step", exact_int(manifest_.value("step", json()), 0, INT64_MAX / 2, step));
  need("config", manifest_.contains("config") && manifest_["config"].is_object());
  need("world", exact_int(manifest_.value("world", json()), 1, 1 << 24, world));
  need("files", manifest_.contains("files") && manifest_["files"].is_array());
  if (manifest_["files"].empty()) mbad("'files' lists no files (a checkpoint holds at least the model)");
  // The directory's name, when it is a step directory, must agree: a manifest that
  // says another step would resume there and overwrite the wrong checkpoint.
  if (int64_t named = 0; ckpt::parse_step_dir(dir_.filename().string(), named) && named != step)
    mbad("'step' is " + std::to_string(step) + " but the directory is " + dir_.filename().string());
  for (const char* k : {"options", "extra"})
    if (!manifest_.contains(k)) manifest_[k] = json::object();
  if (!manifest_.contains("rng")) manifest_["rng"] = nullptr;
  for (const json& f : manifest_["files"]) {
    CheckpointFile cf;
    int64_t bytes = 0, rank = 0;
    bool ok = f.is_object() && f.value("file", json()).is_string() &&
              f.value("role", json()).is_string() && f.value("xxh64", json()).is_string() &&
              exact_int(f.value("bytes", json()), 0, INT64_MAX, bytes) &&
              exact_int(f.value("rank", json()), 0, world - 1, rank);
    if (!ok) mbad("a 'files' entry is malformed: " + f.dump().substr(0, 200));
    cf.file = f["file"], cf.role = f["role"], cf.xxh64 = f["xxh64"];
    cf.bytes = static_cast<uint64_t>(bytes), cf.rank = static_cast<int>(rank);
    if (cf.file.find('\0') != std::string::npos) mbad("a file name contains a NUL byte");
    if (cf.file.find('/') != std::string::npos || cf.file.empty() || cf.file[0] == '.')
      mbad("file name '" + cf.file + "' is not a plain name inside the checkpoint");
    if (cf.role != "model" && cf.role != "optimizer")
      mbad("file '" + cf.file + "' has unknown role '" + cf.role + "'");
    files_.push_back(std::move(cf));
  }
}

const json& LoadedCheckpoint::rng(int rank) const {
  if (rank == 0) return manifest_.at("rng");
  if (manifest_.contains("ranks") && manifest_["ranks"].is_array())
    for (const json& r : manifest_["ranks"])
      if (r.is_object() && r.value("rank", -1) == rank && r.contains("rng")) return r["rng"];
  bad("no RNG state for rank " + std::to_string(rank));
}

// ---- the files ----------------------------------------------------------------------

// Order: existence and size (the plainest message for a truncated copy), then the
// header's structure, then the checksum (which catches any flipped byte of data).
void LoadedCheckpoint::open_files() {
  for (size_t i = 0; i < files_.size(); ++i) {
    const CheckpointFile& f = files_[i];
    const stdfs::path p = dir_ / f.file;
    auto fbad = [&](const std::string& why) { throw UsageError("'" + p.string() + "': " + why); };
    std::error_code ec;
    const stdfs::file_status st = stdfs::symlink_status(p, ec);
    if (!stdfs::exists(st)) fbad("listed in manifest.json but missing");
    if (stdfs::is_symlink(st)) fbad("is a symbolic link; a checkpoint holds its own files only");
    if (!stdfs::is_regular_file(st)) fbad("is not a regular file (a FIFO, device or directory)");
    uint64_t size = stdfs::file_size(p, ec);
    if (size != f.bytes)
      fbad("truncated or damaged: " + std::to_string(size) + " bytes, manifest.json says " +
           std::to_string(f.bytes));
    readers_.push_back(std::make_unique<safetensors::Reader>(p));
    std::string got = hex64(xxh64_file(p));
    if (got != f.xxh64)
      fbad("checksum mismatch: XXH64 is " + got + ", manifest.json says " + f.xxh64 +
           " (the file is damaged)");
    index_file(i);
  }
}

// Registers every tensor of file i (with its box) in tensors_, checking it against
// what other files said about the same tensor.
void LoadedCheckpoint::index_file(size_t i) {
  const safetensors::Reader& r = *readers_[i];
  auto fbad = [&](const std::string& why) {
    throw UsageError("'" + r.path().string() + "': " + why);
  };
  const auto& md = r.metadata();
  if (auto st = md.find("plait.step"); st != md.end() && st->second != std::to_string(step()))
    fbad("__metadata__ 'plait.step' is " + st->second + ", manifest.json says " +
         std::to_string(step()));
  if (files_[i].role == "model")  // the config in each model file must be the manifest's
    for (auto& [k, v] : config().items()) {
      auto it = md.find(k);
      std::string want = v.is_string() ? v.get<std::string>() : v.dump();
      if (it == md.end() || it->second != want)
        fbad("__metadata__ '" + k + "' is " + (it == md.end() ? "missing" : it->second) +
             ", manifest.json's config says " + want);
    }
  std::vector<const safetensors::TensorInfo*> by_offset;  // the writer's order
  for (const auto& t : r.tensors()) by_offset.push_back(&t);
  std::stable_sort(by_offset.begin(), by_offset.end(),
                   [](auto* a, auto* b) { return a->begin < b->begin; });
  for (const safetensors::TensorInfo* tp : by_offset) {
    const safetensors::TensorInfo& t = *tp;
    if (t.dtype != safetensors::DType::F32)
      fbad("tensor '" + t.name + "' is " + safetensors::dtype_name(t.dtype) +
           "; checkpoints hold F32 only");
    Box full = t.shape, b(t.shape.size(), 0), e = t.shape;
    std::string name = t.name;  // the full tensor's name: the slice entry's "of", else the key
    auto sl = md.find(ckpt::kSlicePrefix + t.name);
    if (sl != md.end()) parse_slice(t, sl->second, r.path(), name, full, b, e);
    add_shard(i, name, t.name, full, b, e);
  }
}

// Registers the box [b, e) of tensor `name` (shape `full`), stored under `key` in file
// i, checking it against what other files (and other boxes of this one) said.
void LoadedCheckpoint::add_shard(size_t i, const std::string& name, const std::string& key,
                                 const Box& full, const Box& b, const Box& e) {
  auto fbad = [&](const std::string& why) {
    throw UsageError("'" + readers_[i]->path().string() + "': " + why);
  };
  std::string where = "tensor '" + name + "'";
  if (key != name) where += " (stored as '" + key + "')";
  auto [it, fresh] = tensors_.try_emplace(name);
  TensorEntry& en = it->second;
  if (fresh) en.name = name, en.role = files_[i].role, en.shape = full, order_.push_back(name);
  else if (en.shape != full)
    fbad(where + " has full shape " + safetensors::shape_str(full) + ", another file says " +
         safetensors::shape_str(en.shape));
  for (const TensorShard& s : en.shards) {
    Box ib, ie;
    if (s.begin == b && s.end == e) {  // a replica: kept once, if it holds the same values
      if (!same_bytes(*readers_[s.file], s.key, *readers_[i], key))
        fbad(where + " box " + box_str(b, e) + " is stored twice with different values (also in '" +
             files_[s.file].file + "')");
      return;
    }
    if (intersect(s.begin, s.end, b, e, ib, ie))
      fbad(where + " shard " + box_str(b, e) + " overlaps shard " + box_str(s.begin, s.end) +
           " in '" + files_[s.file].file + "'");
  }
  en.shards.push_back({i, b, e, key});
}

// Disjoint shards (index_file ensured it) cover a tensor iff their volumes add up.
void LoadedCheckpoint::check_coverage() const {
  for (const auto& [name, en] : tensors_) {
    int64_t covered = 0;
    for (const auto& s : en.shards) covered += volume(s.begin, s.end);
    int64_t total = safetensors::numel(en.shape);
    if (covered != total)
      bad("tensor '" + name + "' is incomplete: its shards cover " + std::to_string(covered) +
          " of " + std::to_string(total) + " elements");
  }
}

// Attachments (checkpoint.h): present, of the recorded size and XXH64.
static void check_attachments(const stdfs::path& dir, const json& manifest) {
  if (!manifest.contains("attachments")) return;
  const json& list = manifest.at("attachments");
  if (!list.is_array())
    throw UsageError("'" + (dir / ckpt::kManifest).string() + "': 'attachments' is not a list");
  for (const json& a : list) {
    if (!a.is_object() || !a.value("file", json()).is_string())
      throw UsageError("'" + (dir / ckpt::kManifest).string() + "': an attachment has no 'file'");
    const stdfs::path rel = a.at("file").get<std::string>();
    bool inside = !rel.empty() && rel.is_relative();
    for (const auto& part : rel) inside = inside && part != ".." && part != ".";
    if (!inside || rel.string().find('\0') != std::string::npos)
      throw UsageError("'" + (dir / ckpt::kManifest).string() + "': attachment '" + rel.string() +
                       "' is not a plain path inside the checkpoint");
    const stdfs::path p = dir / rel;
    std::error_code ec;
    for (stdfs::path q = p; q != dir && q.has_relative_path(); q = q.parent_path())
      if (stdfs::is_symlink(q, ec))
        throw UsageError("'" + q.string() + "': a symbolic link; a checkpoint holds its own files only");
    if (!stdfs::is_regular_file(stdfs::symlink_status(p, ec)))
      throw UsageError("'" + p.string() + "': listed in manifest.json but missing");
    if (stdfs::file_size(p, ec) != a.value("bytes", uint64_t{0}) ||
        hex64(xxh64_file(p)) != a.value("xxh64", std::string()))
      throw UsageError("'" + p.string() + "': damaged (size or XXH64 differs from manifest.json)");
  }
}

LoadedCheckpoint load_checkpoint(const stdfs::path& path) {
  LoadedCheckpoint c;
  c.dir_ = latest_checkpoint(path);
  c.parse_manifest();
  check_attachments(c.dir_, c.manifest_);
  c.open_files();
  c.check_coverage();
  return c;
}

// ---- reading tensors -------------------------------------------------------------

const TensorEntry& LoadedCheckpoint::entry(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) bad("tensor '" + name + "' is missing");
  return it->second;
}

const std::vector<int64_t>& LoadedCheckpoint::shape(const std::string& name) const {
  return entry(name).shape;
}

void LoadedCheckpoint::read(const std::string& name, const std::vector<int64_t>& expected_shape,
                            std::span<float> out) const {
  const TensorEntry& en = entry(name);
  if (en.shape != expected_shape)
    bad("tensor '" + name + "' has shape " + safetensors::shape_str(en.shape) + ", expected " +
        safetensors::shape_str(expected_shape));
  read_slice(name, Box(en.shape.size(), 0), en.shape, out);
}

void LoadedCheckpoint::read_slice(const std::string& name, const Box& begin, const Box& end,
                                  std::span<float> out) const {
  const TensorEntry& en = entry(name);
  bool ok = begin.size() == en.shape.size() && end.size() == en.shape.size();
  for (size_t k = 0; ok && k < begin.size(); ++k)
    ok = 0 <= begin[k] && begin[k] <= end[k] && end[k] <= en.shape[k];
  if (!ok)
    bad("slice " + box_str(begin, end) + " is outside tensor '" + name + "' of shape " +
        safetensors::shape_str(en.shape));
  if (out.size() != static_cast<size_t>(volume(begin, end)))
    throw std::invalid_argument("read_slice: output buffer size does not match the slice");
  if (out.empty()) return;
  Box ext(begin.size());
  for (size_t k = 0; k < ext.size(); ++k) ext[k] = end[k] - begin[k];
  int64_t covered = 0;
  std::vector<float> buf;
  for (const TensorShard& s : en.shards) {
    Box ib, ie;
    if (!intersect(s.begin, s.end, begin, end, ib, ie)) continue;  // (rank 0: always)
    const safetensors::Reader& r = *readers_[s.file];
    const safetensors::TensorInfo& t = *r.find(s.key);
    covered += volume(ib, ie);
    if (s.begin == begin && s.end == end) {  // the shard is exactly the request
      r.read_bytes(t, std::as_writable_bytes(out));
      continue;
    }
    // Read only the shard's rows (outermost dimension) that the request touches: they
    // are one contiguous byte range of the file.
    Box rows = t.shape;
    int64_t r0 = 0;
    if (!rows.empty()) r0 = ib[0] - s.begin[0], rows[0] = ie[0] - ib[0];
    int64_t row_floats = 1;  // floats per outermost index
    for (size_t k = 1; k < t.shape.size(); ++k) row_floats *= t.shape[k];
    buf.resize(static_cast<size_t>(safetensors::numel(rows)));
    safetensors::TensorInfo part = t;
    part.begin = t.begin + static_cast<uint64_t>(r0 * row_floats) * sizeof(float);
    part.end = part.begin + buf.size() * sizeof(float);
    r.read_bytes(part, std::as_writable_bytes(std::span<float>(buf)));
    Box sb(ib.size()), db(ib.size()), iext(ib.size());
    for (size_t k = 0; k < ib.size(); ++k) {
      sb[k] = ib[k] - s.begin[k] - (k == 0 ? r0 : 0);
      db[k] = ib[k] - begin[k];
      iext[k] = ie[k] - ib[k];
    }
    copy_box(buf.data(), rows, sb, out.data(), ext, db, iext);
  }
  if (covered != volume(begin, end))
    bad("tensor '" + name + "': slice " + box_str(begin, end) + " is not fully covered by shards");
  check_finite(out, "checkpoint '" + dir_.string() + "'", name);
}

}  // namespace plait
