// Checkpoint save (the commit protocol) and directory resolution. Loading and
// verification are in checkpoint_load.cpp.
#include "fault/checkpoint.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <stdexcept>

#include "fault/checkpoint_names.h"
#include "fault/crash_hook.h"
#include "fault/fsutil.h"
#include "fault/hash.h"
#include "fault/run_id.h"
#include "util/error.h"

namespace plait {
namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;

// The safetensors key of each of `ts`: "<prefix><name>" for the first box of a name,
// "<prefix><name>@1", "@2", ... for the later boxes of the same name (one rank's share
// of a tensor may be several boxes: a tensor-parallel rank's q, k and v rows).
std::vector<std::string> storage_keys(const std::string& prefix,
                                      const std::vector<NamedTensor>& ts) {
  std::map<std::string, int> seen;
  std::vector<std::string> keys;
  for (const NamedTensor& t : ts) {
    const int n = seen[t.name]++;
    std::string key = prefix + t.name;
    if (n > 0) {
      key += ckpt::kBoxSeparator;
      key += std::to_string(n);
    }
    keys.push_back(std::move(key));
  }
  return keys;
}

// The safetensors __metadata__ of a file: its role, the step, the model config (as
// strings, the format's rule) and, for every box that is not a whole tensor stored
// under its own name, "slice.<key>" = its full tensor's name ("of"), shape and place.
std::map<std::string, std::string> file_metadata(const CheckpointData& d, const char* role,
                                                 const std::vector<NamedTensor>& ts,
                                                 const std::vector<std::string>& keys,
                                                 const std::vector<std::string>& full_names) {
  std::map<std::string, std::string> md;
  md["format"] = "pt";  // what Hugging Face loaders expect of a PyTorch-layout file
  md["plait.role"] = role;
  md["plait.step"] = std::to_string(d.step);
  if (d.config.is_object())
    for (auto& [k, v] : d.config.items()) md[k] = v.is_string() ? v.get<std::string>() : v.dump();
  for (size_t i = 0; i < ts.size(); ++i) {
    const NamedTensor& t = ts[i];
    const bool whole = t.full_shape.empty();
    if (whole && keys[i] == full_names[i]) continue;  // the whole tensor under its name
    std::vector<int64_t> begin = whole ? std::vector<int64_t>(t.shape.size(), 0) : t.offset;
    std::vector<int64_t> end(t.shape.size());
    for (size_t k = 0; k < end.size(); ++k) end[k] = begin[k] + t.shape[k];
    md[ckpt::kSlicePrefix + keys[i]] = json{{"of", full_names[i]},
                                            {"full_shape", whole ? t.shape : t.full_shape},
                                            {"begin", begin},
                                            {"end", end}}
                                           .dump();
  }
  return md;
}

void check_tensor(const NamedTensor& t) {
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("checkpoint save: tensor '" + t.name + "': " + why);
  };
  if (t.name.find(ckpt::kBoxSeparator) != std::string::npos)
    fail(std::string("'") + ckpt::kBoxSeparator + "' is reserved for the keys of a tensor's boxes");
  if (t.data.size() != static_cast<size_t>(safetensors::numel(t.shape)))
    fail("data size does not match its shape " + safetensors::shape_str(t.shape));
  if (t.full_shape.empty()) return;
  if (t.full_shape.size() != t.shape.size() || t.offset.size() != t.shape.size())
    fail("full_shape, offset and shape differ in rank");
  for (size_t k = 0; k < t.shape.size(); ++k)
    if (t.offset[k] < 0 || t.offset[k] + t.shape[k] > t.full_shape[k])
      fail("slice lies outside the full shape " + safetensors::shape_str(t.full_shape));
}

using RoleGroups = std::vector<std::pair<std::string, const std::vector<NamedTensor>*>>;

// One role's safetensors file, as save_checkpoint writes it: its name, its tensors (in
// file order: the groups' boxes one after the other) and its metadata.
struct RoleFile {
  std::string file;
  std::vector<safetensors::TensorOut> tensors;
  std::map<std::string, std::string> metadata;

  std::vector<safetensors::TensorSpec> specs() const {  // what the header lists
    std::vector<safetensors::TensorSpec> out;
    for (const auto& t : tensors) out.push_back({t.name, t.dtype, t.shape});
    return out;
  }
};

RoleFile role_file(const CheckpointData& d, const ShardWriter& w, const char* role,
                   const RoleGroups& groups) {
  std::vector<NamedTensor> all;
  std::vector<std::string> keys, full_names;  // per box: its safetensors key, its tensor
  for (auto& [prefix, ts] : groups) {
    for (const std::string& k : storage_keys(prefix, *ts)) keys.push_back(k);
    for (const auto& t : *ts) {
      check_tensor(t);
      all.push_back(t);
      full_names.push_back(prefix + t.name);
    }
  }
  RoleFile f{ckpt::file_name(role, w.rank, w.world), {}, file_metadata(d, role, all, keys, full_names)};
  for (size_t i = 0; i < all.size(); ++i)
    f.tensors.push_back(safetensors::f32_tensor(keys[i], all[i].shape, all[i].data));
  return f;
}

RoleGroups model_groups(const CheckpointData& d) { return {{"", &d.model}}; }
RoleGroups optimizer_groups(const CheckpointData& d) {
  return {{ckpt::kMomentM, &d.opt_m}, {ckpt::kMomentV, &d.opt_v}};
}

// What a role file's header follows from, but for the step: the role, the writer, the
// config and every box's key, shape and place (one string, compared whole).
std::string layout_signature(const CheckpointData& d, const ShardWriter& w, const char* role,
                             const RoleGroups& groups) {
  std::string sig = std::string(role) + '\n' + std::to_string(w.rank) + '/' +
                    std::to_string(w.world) + '\n' + d.config.dump() + '\n';
  auto dims = [&](const std::vector<int64_t>& v) {
    for (int64_t x : v) sig += std::to_string(x), sig += ',';
    sig += ';';
  };
  for (auto& [prefix, ts] : groups)
    for (const NamedTensor& t : *ts) {
      sig += prefix, sig += t.name, sig += ':';
      dims(t.shape), dims(t.full_shape), dims(t.offset);
    }
  return sig;
}

// The headers of the role files last written, per role and rank: a checkpoint every
// step rebuilds the same header (hundreds of small JSON objects under tensor
// parallelism: a third of the writer's CPU) but for "plait.step". A header whose
// layout signature matches is the cached one with the step's digits replaced, then
// padded again: the bytes safetensors::header builds (checked by the tests against
// fresh saves).
struct CachedHeader {
  std::string signature;
  std::string json;      // the header's JSON, unpadded
  size_t step_at = 0;    // where the step's digits are in it
  size_t step_len = 0;
};
std::mutex header_cache_mutex;
std::map<std::pair<std::string, int>, CachedHeader> header_cache;

std::string padded(std::string h) {
  h.append((8 - h.size() % 8) % 8, ' ');  // safetensors: 8 + N is a multiple of 8
  return h;
}

std::string role_header(const CheckpointData& d, const ShardWriter& w, const char* role,
                        const RoleGroups& groups) {
  std::string sig = layout_signature(d, w, role, groups);
  const std::string step = std::to_string(d.step);
  {
    std::lock_guard lock(header_cache_mutex);
    auto it = header_cache.find({role, w.rank});
    if (it != header_cache.end() && it->second.signature == sig) {
      const CachedHeader& c = it->second;
      return padded(c.json.substr(0, c.step_at) + step + c.json.substr(c.step_at + c.step_len));
    }
  }
  const RoleFile f = role_file(d, w, role, groups);
  std::string h = safetensors::header(f.specs(), f.metadata);
  CachedHeader c{std::move(sig), h.substr(0, h.find_last_not_of(' ') + 1), 0, step.size()};
  const std::string key = "\"plait.step\":\"" + step + "\"";
  const size_t at = c.json.find(key);
  if (at != std::string::npos && c.json.find(key, at + 1) == std::string::npos) {
    c.step_at = at + key.size() - 1 - step.size();
    std::lock_guard lock(header_cache_mutex);
    header_cache[{role, w.rank}] = std::move(c);
  }
  return h;
}

// Writes one role's file (fsynced) and returns its manifest entry.
json write_role_file(const stdfs::path& dir, const CheckpointData& d, const ShardWriter& w,
                     const char* role, const RoleGroups& groups) {
  std::vector<std::span<const std::byte>> data;  // the boxes' bytes, in file order
  for (auto& [prefix, ts] : groups)
    for (const NamedTensor& t : *ts) {
      check_tensor(t);
      data.push_back(std::as_bytes(t.data));
    }
  const std::string file = ckpt::file_name(role, w.rank, w.world);
  // over the file a recycled checkpoint holds under this name, if any (same size when
  // the layout is unchanged: no block allocated or freed)
  auto written = safetensors::write_file_with_header(dir / file, role_header(d, w, role, groups),
                                                     data, /*overwrite=*/true);
  return {{"file", file}, {"role", role}, {"rank", w.rank},
          {"bytes", written.bytes}, {"xxh64", hex64(written.xxh64)}};
}

uint64_t role_data_offset(const CheckpointData& d, const ShardWriter& w, const char* role,
                          const RoleGroups& groups) {
  const RoleFile f = role_file(d, w, role, groups);
  return safetensors::data_offset(f.specs(), f.metadata);
}

// This rank's part of the manifest: its files (written and fsynced here) and its RNG.
json write_rank_files(const stdfs::path& tmp, const CheckpointData& d, const ShardWriter& w) {
  json files = json::array();  // a rank with nothing of a role writes no file for it
  if (!d.model.empty()) files.push_back(write_role_file(tmp, d, w, "model", model_groups(d)));
  fault::crash_point("data", d.step, tmp.parent_path());
  if (!d.opt_m.empty() || !d.opt_v.empty())
    files.push_back(write_role_file(tmp, d, w, "optimizer", optimizer_groups(d)));
  return {{"rank", w.rank}, {"rng", d.rng}, {"files", files}};
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// Removes what an interrupted save left behind (.tmp-* and .trash-* entries) and every
// spare but one, which it returns ("" if none).
stdfs::path remove_leftovers(const stdfs::path& run_dir) {
  stdfs::path spare;
  for (const auto& e : stdfs::directory_iterator(run_dir)) {
    std::string n = e.path().filename().string();
    if (starts_with(n, ckpt::kSparePrefix) && spare.empty() && e.is_directory()) spare = e.path();
    else if (starts_with(n, ckpt::kTmpPrefix) || starts_with(n, ckpt::kTrashPrefix) ||
             starts_with(n, ckpt::kSparePrefix))
      stdfs::remove_all(e.path());
  }
  return spare;
}

// A spare's manifest goes first: renamed, not deleted, so the next manifest can be
// written over its blocks. ENOENT (none there) is fine.
void invalidate_manifest(const stdfs::path& dir) {
  if (std::rename((dir / ckpt::kManifest).c_str(), (dir / ckpt::kSpareManifest).c_str()) != 0 &&
      errno != ENOENT)
    throw RuntimeError("cannot rename '" + (dir / ckpt::kManifest).string() + "': " +
                       std::strerror(errno));
}

// The temp directory `tmp` of a save, empty or RECYCLED: the spare (a checkpoint pruned
// earlier) renamed to it, its files left for this save to overwrite in place (same
// sizes when the layout is unchanged: no inode created, no block allocated, none freed
// or discarded). The spare's name was made durable before anything in it changed
// (prune), and neither name is ever read as a checkpoint. Returns whether it recycled.
bool make_temp_dir(const stdfs::path& run_dir, const stdfs::path& tmp) {
  const stdfs::path spare = remove_leftovers(run_dir);
  if (spare.empty()) {
    stdfs::create_directory(tmp);
    return false;
  }
  fs::rename_path(spare, tmp);
  invalidate_manifest(tmp);  // a spare left by a crash inside prune may still hold one
  return true;
}

// What a recycled temp directory holds besides this save's files (another layout's
// files, a part of a crashed save): removed before the commit, so a checkpoint holds
// what its manifest lists and nothing else.
void remove_unlisted(const stdfs::path& tmp, const json& manifest) {
  std::set<std::string> keep{ckpt::kManifest, ckpt::kSpareManifest};
  for (const json& f : manifest.at("files")) keep.insert(f.at("file").get<std::string>());
  if (manifest.contains("attachments"))
    for (const json& a : manifest.at("attachments"))
      keep.insert(stdfs::path(a.at("file").get<std::string>()).begin()->string());
  for (const auto& e : stdfs::directory_iterator(tmp))
    if (!keep.count(e.path().filename().string())) stdfs::remove_all(e.path());
}

std::mutex run_id_mutex;
std::string run_id;  // set_checkpoint_run_id

// Test hook: with PLAIT_TEST_PAUSE_IN_PRUNE set, pruning deletes one file of the
// first checkpoint it removes, creates RUN/paused and waits to be killed: a kill in
// the middle of a deletion, at a known point.
void maybe_pause_in_prune(const stdfs::path& run_dir, const stdfs::path& doomed) {
  if (std::getenv("PLAIT_TEST_PAUSE_IN_PRUNE") == nullptr) return;
  for (const auto& e : stdfs::directory_iterator(doomed))
    if (e.is_regular_file() && e.path().filename() != ckpt::kManifest) {
      stdfs::remove(e.path());
      break;
    }
  fs::write_file_durable(run_dir / "paused", "");
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

// Removes committed checkpoints older than `step` beyond the newest keep_last (those
// newer than `step`, left by another run, are not ours to judge). The newest of them
// becomes the spare instead (the next save's temp directory: make_temp_dir) unless
// the run directory holds one.
void prune(const stdfs::path& run_dir, int64_t step, int keep_last) {
  if (keep_last <= 0) return;
  std::vector<std::pair<int64_t, stdfs::path>> dirs;
  bool have_spare = false;
  for (const auto& e : stdfs::directory_iterator(run_dir)) {
    int64_t s;
    const std::string name = e.path().filename().string();
    if (e.is_directory() && ckpt::parse_step_dir(name, s) && s <= step) dirs.emplace_back(s, e.path());
    have_spare = have_spare || starts_with(name, ckpt::kSparePrefix);
  }
  std::sort(dirs.rbegin(), dirs.rend());
  // Atomic per checkpoint: renamed to a trash name first (readers never look there),
  // then deleted, so a kill mid-way never leaves a step directory with its manifest
  // but without a listed file; the next save removes the trash.
  // The spare likewise: its new name is durable before its manifest is renamed and
  // long before its files are overwritten.
  std::vector<stdfs::path> trash;
  stdfs::path spare;
  for (size_t i = static_cast<size_t>(keep_last); i < dirs.size(); ++i) {
    const bool as_spare = !have_spare;  // the newest pruned one, if no spare exists
    have_spare = true;
    const stdfs::path to = run_dir / ((as_spare ? ckpt::kSparePrefix : ckpt::kTrashPrefix) +
                                      dirs[i].second.filename().string());
    stdfs::remove_all(to);
    fs::rename_path(dirs[i].second, to);
    (as_spare ? spare : trash.emplace_back()) = to;
  }
  if (trash.empty() && spare.empty()) return;
  fs::fsync_dir(run_dir);
  if (!spare.empty()) {
    maybe_pause_in_prune(run_dir, spare);
    invalidate_manifest(spare);
  }
  for (const stdfs::path& t : trash) {
    maybe_pause_in_prune(run_dir, t);
    stdfs::remove_all(t);
  }
}

// Rank 0's attachments (fsynced), and their manifest entries.
json write_attachments(const stdfs::path& tmp, const CheckpointData& d) {
  json list = json::array();
  for (const auto& [name, contents] : d.attachments) {
    if (name.empty() || name.find("..") != std::string::npos || name[0] == '/')
      throw std::invalid_argument("checkpoint save: bad attachment name '" + name + "'");
    stdfs::create_directories((tmp / name).parent_path());
    fs::write_file_durable(tmp / name, contents, fs::Existing::Overwrite);
    list.push_back({{"file", name},
                    {"bytes", contents.size()},
                    {"xxh64", hex64(xxh64(std::as_bytes(std::span<const char>(contents))))}});
  }
  for (const auto& [name, contents] : d.attachments)  // their directories' entries
    if (stdfs::path(name).has_parent_path()) fs::fsync_dir(tmp / stdfs::path(name).parent_path());
  return list;
}

json build_manifest(const CheckpointData& d, int world, const std::vector<json>& parts) {
  json files = json::array(), ranks = json::array();
  for (const json& p : parts) {
    for (const json& f : p.at("files")) files.push_back(f);
    ranks.push_back({{"rank", p.at("rank")}, {"rng", p.at("rng")}});
  }
  return {{"format", ckpt::kFormatName},
          {"version", kCheckpointFormatVersion},
          {"step", d.step},
          {"config", d.config},
          {"options", d.options.is_null() ? json::object() : d.options},
          {"extra", d.extra.is_null() ? json::object() : d.extra},
          {"world", world},
          {"rng", parts.at(0).at("rng")},
          {"ranks", ranks},
          {"checksum", "xxh64"},
          {"files", files}};
}

// manifest.json, fsynced; in a recycled directory written over the spare's old
// manifest (kSpareManifest) and renamed to its name, so no inode is made or freed.
void write_manifest(const stdfs::path& tmp, const std::string& text) {
  const stdfs::path old = tmp / ckpt::kSpareManifest;
  std::error_code ec;
  if (!stdfs::is_regular_file(stdfs::symlink_status(old, ec))) {
    fs::write_file_durable(tmp / ckpt::kManifest, text);
    return;
  }
  fs::write_file_durable(old, text, fs::Existing::Overwrite);
  fs::rename_path(old, tmp / ckpt::kManifest);  // durable with fsync_dir(tmp) next
}

// Rank 0, once every rank's files are durable in `tmp`: the commit. Ordering is the
// whole point, each step relying on the ones before it:
//   1. manifest.json written and fsynced inside tmp (a dir without it is never loaded)
//   2. fsync(tmp): the directory entries of all files are durable
//   3. an old directory of the same name (a step redone after resuming from an older
//      checkpoint) is renamed out of the way to .trash-*
//   4. rename(tmp, final): the checkpoint appears whole, atomically
//   5. fsync(run_dir): the rename is durable
//   6. `latest` replaced atomically (temp file, fsync, rename, fsync run_dir)
//   7. trash and checkpoints beyond keep_last removed (needs no durability)
void commit(const stdfs::path& run_dir, const stdfs::path& tmp, const std::string& name,
            const json& manifest, int keep_last, int64_t step) {
  write_manifest(tmp, manifest.dump(2) + "\n");
  fs::fsync_dir(tmp);
  fault::crash_point("manifest", step, run_dir);
  const stdfs::path final_dir = run_dir / name;
  const stdfs::path trash = run_dir / (ckpt::kTrashPrefix + name);
  bool replaced = stdfs::exists(final_dir);
  if (replaced) fs::rename_path(final_dir, trash);
  fs::rename_path(tmp, final_dir);
  fs::fsync_dir(run_dir);
  fault::crash_point("rename", step, run_dir);
  fs::atomic_replace_recycling(run_dir / ckpt::kLatest, name + "\n", run_dir / ckpt::kLatestSpare,
                               [&] { fault::crash_point("latest", step, run_dir); });
  if (replaced) stdfs::remove_all(trash);
  prune(run_dir, step, keep_last);
}

// Every rank's part of the manifest of checkpoint `step` (RUN/.parts/rankRRRRR.part.json,
// written over the last save's: they need no durability, their content moves into the
// manifest, which is durable before the commit).
std::vector<json> gather_parts(const stdfs::path& parts_dir, int world, int64_t step) {
  std::vector<json> parts;
  for (int r = 0; r < world; ++r) {
    stdfs::path p = parts_dir / ckpt::part_name(r);
    json j = json::parse(fs::read_file(p), nullptr, false);
    if (j.is_discarded() || !j.is_object() || j.value("step", int64_t{-1}) != step)
      throw RuntimeError("checkpoint save: '" + p.string() + "' is damaged or of another save");
    j.erase("step");
    parts.push_back(std::move(j));
  }
  return parts;
}

}  // namespace

stdfs::path save_checkpoint(const stdfs::path& run_dir, const CheckpointData& data,
                            int keep_last, const ShardWriter& w) {
  if (w.world < 1 || w.rank < 0 || w.rank >= w.world || (w.world > 1 && !w.barrier))
    throw std::invalid_argument("save_checkpoint: bad rank/world/barrier");
  if (data.step < 0) throw std::invalid_argument("save_checkpoint: negative step");
  std::error_code ec;
  if (stdfs::exists(run_dir, ec) && !stdfs::is_directory(run_dir, ec))
    throw UsageError("'" + run_dir.string() + "': not a directory, cannot hold checkpoints");
  auto sync = [&] { if (w.world > 1) w.barrier(); };
  const std::string name = ckpt::step_dir_name(data.step);
  const stdfs::path tmp = run_dir / (ckpt::kTmpPrefix + name);
  const stdfs::path parts_dir = run_dir / ckpt::kPartsDir;
  try {
    bool recycled = false;
    if (w.rank == 0) {  // a clean temp dir (empty, or a spare to overwrite) before anyone writes
      stdfs::create_directories(run_dir);
      recycled = make_temp_dir(run_dir, tmp);
      if (w.world > 1) stdfs::create_directories(parts_dir);
    }
    sync();
    json part = write_rank_files(tmp, data, w);
    if (w.world > 1) {
      json tagged = part;
      tagged["step"] = data.step;
      fs::overwrite_file(parts_dir / ckpt::part_name(w.rank), tagged.dump());
    }
    sync();  // every rank's files are durable, its part written
    if (w.rank == 0) {
      auto parts = w.world > 1 ? gather_parts(parts_dir, w.world, data.step) : std::vector<json>{part};
      json manifest = build_manifest(data, w.world, parts);
      if (!data.tokenizer.is_null()) manifest["tokenizer"] = data.tokenizer;
      if (const std::string run = checkpoint_run_id(); !run.empty()) manifest["run"] = run;
      if (!data.attachments.empty()) manifest["attachments"] = write_attachments(tmp, data);
      if (recycled) remove_unlisted(tmp, manifest);
      commit(run_dir, tmp, name, manifest, keep_last, data.step);
    }
    sync();  // nobody returns before the checkpoint exists
  } catch (const stdfs::filesystem_error& e) {
    throw RuntimeError(std::string("checkpoint save in '") + run_dir.string() + "': " + e.what());
  }
  return run_dir / name;
}

CheckpointDataOffsets checkpoint_data_offsets(const CheckpointData& data, const ShardWriter& w) {
  CheckpointDataOffsets o;
  try {
    if (!data.model.empty()) o.model = role_data_offset(data, w, "model", model_groups(data));
    if (!data.opt_m.empty() || !data.opt_v.empty())
      o.optimizer = role_data_offset(data, w, "optimizer", optimizer_groups(data));
  } catch (const std::exception&) {
    return {};  // a malformed tensor: save_checkpoint will say so
  }
  return o;
}

// ---- finding the checkpoint a path names ---------------------------------------------

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

bool committed(const stdfs::path& dir) { return stdfs::exists(dir / ckpt::kManifest); }

}  // namespace

stdfs::path latest_checkpoint(const stdfs::path& path) {
  std::error_code ec;
  if (!stdfs::exists(path, ec))
    throw UsageError("'" + path.string() + "': no such checkpoint or run directory");
  if (!stdfs::is_directory(path, ec))
    throw UsageError("'" + path.string() + "': not a directory (a checkpoint is a directory)");
  if (committed(path)) return path;
  // The `latest` pointer is the authority (it is written after the rename)...
  if (stdfs::exists(path / ckpt::kLatest, ec)) {
    std::string name = trim(fs::read_file(path / ckpt::kLatest, 4096));
    int64_t s;
    if (ckpt::parse_step_dir(name, s) && committed(path / name)) return path / name;
  }
  // ...and when it is missing or stale, the highest committed step directory.
  int64_t best = -1;
  stdfs::path found;
  for (const auto& e : stdfs::directory_iterator(path, ec)) {
    int64_t s;
    if (ckpt::parse_step_dir(e.path().filename().string(), s) && s > best && committed(e.path()))
      best = s, found = e.path();
  }
  if (best >= 0) return found;
  throw UsageError("'" + path.string() +
                   "': no checkpoint here (no manifest.json, no 'latest', no committed "
                   "step-* directory)");
}

void set_checkpoint_run_id(const std::string& id) {
  std::lock_guard lock(run_id_mutex);
  run_id = id;
}

std::string checkpoint_run_id() {
  std::lock_guard lock(run_id_mutex);
  return run_id;
}

}  // namespace plait
