// Checkpoints: a directory of safetensors files plus a manifest, committed atomically,
// that any layout of workers can write and any other layout can read
// (docs/CHECKPOINTS.md has the full format).
//
//   RUN_DIR/
//     latest                    "step-00000020\n": the last committed checkpoint
//     step-00000010/            one committed checkpoint (the state after 10 steps)
//       manifest.json           format, step, config, options, rng, files + checksums
//       model.safetensors       parameters, nanoGPT names, config in __metadata__
//       optimizer.safetensors   AdamW moments "m.<name>" and "v.<name>"
//     step-00000020/ ...
//
// A sharded checkpoint (world > 1) has model-rank00003.safetensors and
// optimizer-rank00003.safetensors per rank instead. Each file stores a shard under the
// FULL tensor's name, with its place in the full tensor in the file's __metadata__:
//   "slice.transformer.h.0.attn.c_attn.weight":
//       "{\"of\":\"transformer.h.0.attn.c_attn.weight\",\"full_shape\":[96,32],
//         \"begin\":[48,0],\"end\":[96,32]}"
// (no "slice." entry: the file holds the whole tensor). One file may hold SEVERAL boxes
// of one tensor (a tensor-parallel rank's share of c_attn.weight [3C,C] is three row
// boxes: its heads' q, k and v rows): the first box keeps the key "<name>", later ones
// are stored under "<name>@1", "<name>@2", ... in the order given (the optimizer's
// "m.<name>@1" likewise), and each box's slice entry names its tensor in "of". A loader
// assembles any box of any tensor from whichever shards cover it, so a checkpoint
// written by one layout loads into any other. Shards of one tensor must be identical
// (replicas, kept once) or disjoint; together they must cover the whole tensor.
//
// This API knows nothing of the model: it stores named float tensors and JSON.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fault/safetensors.h"

namespace plait {

inline constexpr int kCheckpointFormatVersion = 1;

// A float32 tensor, or the box [offset, offset + shape) of a larger one.
struct NamedTensor {
  std::string name;              // the FULL tensor's name (nanoGPT name); no '@'. A name
                                 // may repeat in one list: several boxes of the tensor
  std::vector<int64_t> shape;    // extents of `data` (row-major)
  std::span<const float> data;   // numel(shape) floats
  std::vector<int64_t> full_shape;  // empty: this is the whole tensor
  std::vector<int64_t> offset;      // where the box begins in the full tensor (with full_shape)
};

// What one rank contributes to a checkpoint.
struct CheckpointData {
  int64_t step = 0;             // the state after `step` optimizer steps
  nlohmann::json config;        // model config: GPTConfig::to_json() (integers)
  nlohmann::json options;       // training options that must match on resume
  nlohmann::json rng;           // this rank's RNG state (any JSON)
  nlohmann::json extra;         // anything else a resume needs (optional)
  nlohmann::json tokenizer;     // the run's tokenizer: {"type", "vocab", "fingerprint",
                                // "dir"} (parallel/checkpoint_tokenizer.h); null: bytes
  // Small files rank 0 writes into the checkpoint (relative path -> contents), e.g.
  // "tokenizer/vocab.bpe"; listed in the manifest's "attachments" with size and XXH64.
  std::map<std::string, std::string> attachments;
  std::vector<NamedTensor> model;         // parameters, under their names
  std::vector<NamedTensor> opt_m, opt_v;  // AdamW moments, under the PARAMETER's name;
                                          // stored as "m.<name>" and "v.<name>"
};

// Who is writing: rank r of `world` ranks that all call save_checkpoint for the same
// step with their own shards. `barrier` blocks until every rank has reached it (any
// collective; unused when world == 1). Only rank 0's config, options and extra are
// recorded; every rank's rng is (manifest "ranks").
struct ShardWriter {
  int rank = 0;
  int world = 1;
  std::function<void()> barrier;
};

// Commits `data` as RUN_DIR/step-NNNNNNNN atomically and points RUN_DIR/latest at it;
// keeps the newest `keep_last` checkpoints up to this step (0 keeps all). Returns the
// checkpoint's path (on every rank). RuntimeError on I/O failure; a failure leaves
// only a .tmp-* directory that the next save removes and every reader ignores.
std::filesystem::path save_checkpoint(const std::filesystem::path& run_dir,
                                      const CheckpointData& data, int keep_last,
                                      const ShardWriter& writer = {});

// Where the tensor data of the files save_checkpoint(…, data, …, writer) writes starts
// in each file (safetensors::data_offset; 0 for a role this rank writes no file for, or
// when `data` is malformed). The background writer lays its snapshot out by these, so
// the files' direct writes need no copy (fault/checkpoint_writer.h).
struct CheckpointDataOffsets {
  uint64_t model = 0;      // the model file: d.model's boxes, in order
  uint64_t optimizer = 0;  // the optimizer file: d.opt_m's boxes, then d.opt_v's
};
CheckpointDataOffsets checkpoint_data_offsets(const CheckpointData& data,
                                              const ShardWriter& writer = {});

// The checkpoint that `path` names: itself if it holds a manifest.json, else the run
// directory's `latest`, else its highest committed step-* directory. UsageError (one
// line, naming the path) when there is none.
std::filesystem::path latest_checkpoint(const std::filesystem::path& run_dir_or_ckpt);

// One file of a checkpoint, as listed by its manifest.
struct CheckpointFile {
  std::string file;   // name inside the checkpoint directory
  std::string role;   // "model" or "optimizer"
  int rank = 0;       // the rank that wrote it
  uint64_t bytes = 0;
  std::string xxh64;  // 16 hex digits: XXH64 of the whole file
};

// One shard of a tensor inside one file.
struct TensorShard {
  size_t file = 0;  // index into LoadedCheckpoint::files()
  std::vector<int64_t> begin, end;  // box in the full tensor
  std::string key;  // its safetensors key in that file: the name, "m.<name>", or "...@N"
};

struct TensorEntry {
  std::string name;                 // "transformer.wte.weight", "m.transformer.wte.weight"
                                    // (the full name: a slice entry's "of", never "...@N")
  std::string role;                 // "model" or "optimizer"
  std::vector<int64_t> shape;       // the full tensor's shape
  std::vector<TensorShard> shards;  // distinct boxes (replicas listed once)
};

// A checkpoint opened and verified: manifest fields, every file's size and XXH64,
// every safetensors header, slice metadata, shard overlap and coverage. Tensor data
// is read on demand.
class LoadedCheckpoint {
 public:
  const std::filesystem::path& dir() const { return dir_; }
  const nlohmann::json& manifest() const { return manifest_; }
  int64_t step() const { return manifest_.at("step").get<int64_t>(); }
  const nlohmann::json& config() const { return manifest_.at("config"); }
  const nlohmann::json& options() const { return manifest_.at("options"); }
  const nlohmann::json& extra() const { return manifest_.at("extra"); }
  // The manifest's "tokenizer" (null for checkpoints of byte-level runs made before
  // tokenizers were recorded, which are bytes).
  nlohmann::json tokenizer() const { return manifest_.value("tokenizer", nlohmann::json()); }
  int world() const { return manifest_.at("world").get<int>(); }
  // The RNG state saved by `rank` (rank 0's is the run's); UsageError if absent.
  const nlohmann::json& rng(int rank = 0) const;

  const std::vector<CheckpointFile>& files() const { return files_; }
  const std::map<std::string, TensorEntry>& tensors() const { return tensors_; }
  // Every tensor's name in storage order (the writer's order: model, then m., then v.).
  const std::vector<std::string>& names() const { return order_; }
  bool contains(const std::string& name) const { return tensors_.count(name) > 0; }
  // Full shape; UsageError naming the tensor and the checkpoint when missing.
  const std::vector<int64_t>& shape(const std::string& name) const;

  // Copies the whole tensor into `out` after checking it exists with `expected_shape`
  // (UsageError naming the tensor, its shape and the expected one otherwise).
  void read(const std::string& name, const std::vector<int64_t>& expected_shape,
            std::span<float> out) const;
  // Copies the box [begin, end) of the full tensor into `out` (row-major, numel of the
  // box), assembling it from every shard that intersects it.
  void read_slice(const std::string& name, const std::vector<int64_t>& begin,
                  const std::vector<int64_t>& end, std::span<float> out) const;

 private:
  friend LoadedCheckpoint load_checkpoint(const std::filesystem::path&);
  [[noreturn]] void bad(const std::string& problem) const;
  const TensorEntry& entry(const std::string& name) const;
  void parse_manifest();
  void open_files();
  void index_file(size_t i);
  void add_shard(size_t i, const std::string& name, const std::string& key,
                 const std::vector<int64_t>& full, const std::vector<int64_t>& begin,
                 const std::vector<int64_t>& end);
  void check_coverage() const;

  std::filesystem::path dir_;
  nlohmann::json manifest_;
  std::vector<CheckpointFile> files_;
  std::vector<std::unique_ptr<safetensors::Reader>> readers_;  // one per file
  std::map<std::string, TensorEntry> tensors_;
  std::vector<std::string> order_;
};

// Opens and verifies the checkpoint `path` names (latest_checkpoint rules apply, so a
// run directory works). Every problem is a one-line UsageError naming the file and
// what is wrong with it.
LoadedCheckpoint load_checkpoint(const std::filesystem::path& path);

}  // namespace plait
