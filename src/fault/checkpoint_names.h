// File and directory names of the checkpoint layout (checkpoint.h), shared by the
// writer and the loader.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace plait::ckpt {

inline constexpr const char* kFormatName = "plait-checkpoint";
inline constexpr const char* kManifest = "manifest.json";
inline constexpr const char* kLatest = "latest";
inline constexpr const char* kTmpPrefix = ".tmp-";      // uncommitted: ignored, then removed
inline constexpr const char* kTrashPrefix = ".trash-";  // replaced: ignored, then removed
// A pruned checkpoint kept for the next save to overwrite in place (ignored by readers;
// its manifest renamed to kSpareManifest first, so it never looks committed).
inline constexpr const char* kSparePrefix = ".spare-";
inline constexpr const char* kSpareManifest = "manifest.spare";
inline constexpr const char* kLatestSpare = ".latest.spare";  // `latest`'s next inode
inline constexpr const char* kPartsDir = ".parts";  // ranks' manifest parts (sharded saves)
inline constexpr const char* kSlicePrefix = "slice.";   // __metadata__ key of a shard's box
inline constexpr char kBoxSeparator = '@';             // "<name>@1": a tensor's 2nd box in a file
inline constexpr const char* kMomentM = "m.";           // AdamW first moment of a parameter
inline constexpr const char* kMomentV = "v.";           // AdamW second moment

inline std::string step_dir_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step-%08lld", static_cast<long long>(step));
  return buf;
}

// "step-" followed by digits only (at least 8); sets step.
inline bool parse_step_dir(const std::string& name, int64_t& step) {
  if (name.size() < 13 || name.compare(0, 5, "step-") != 0 || name.size() > 23) return false;
  int64_t s = 0;
  for (size_t i = 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    s = s * 10 + (name[i] - '0');
  }
  step = s;
  return true;
}

// model.safetensors for a one-rank checkpoint, model-rank00003.safetensors for rank 3.
inline std::string file_name(const std::string& role, int rank, int world) {
  if (world == 1) return role + ".safetensors";
  char buf[32];
  std::snprintf(buf, sizeof buf, "-rank%05d", rank);
  return role + buf + ".safetensors";
}

inline std::string part_name(int rank) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "rank%05d.part.json", rank);
  return buf;
}

}  // namespace plait::ckpt
