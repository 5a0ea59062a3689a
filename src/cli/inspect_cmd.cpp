// plait inspect PATH [--json]: what a checkpoint holds, after verifying it.
// PATH is a run directory (its latest checkpoint), a checkpoint directory, or a single
// .safetensors file or a directory of one (model.safetensors, no manifest): its
// metadata, tensors, XXH64, and what plait makes of it as GPT-2 weights (the format,
// dtype and config --init-from, sample and eval would use, or why they cannot).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/registry.h"
#include "fault/checkpoint.h"
#include "fault/hash.h"
#include "fault/safetensors.h"
#include "fault/weights.h"
#include "util/error.h"

namespace plait::cli {
namespace {

using nlohmann::json;
namespace st = safetensors;

struct InspectOptions {
  std::string path;
  bool json = false;
};

// "layers 2, dim 32, heads 4, ctx 16, vocab 256" (known keys first, then any others).
std::string config_line(const json& cfg) {
  std::string s;
  auto add = [&](const std::string& k, const json& v) {
    s += (s.empty() ? "" : ", ") + k + " " + (v.is_string() ? v.get<std::string>() : v.dump());
  };
  for (const char* k : {"layers", "dim", "heads", "ctx", "vocab"})
    if (cfg.contains(k)) add(k, cfg[k]);
  for (auto& [k, v] : cfg.items())
    if (k != "layers" && k != "dim" && k != "heads" && k != "ctx" && k != "vocab") add(k, v);
  return s;
}

json checkpoint_json(const LoadedCheckpoint& c) {
  json files = json::array(), tensors = json::array();
  for (const auto& f : c.files())
    files.push_back({{"file", f.file}, {"role", f.role}, {"rank", f.rank}, {"bytes", f.bytes},
                     {"xxh64", f.xxh64}, {"verified", true}});
  int64_t params = 0;
  for (const auto& name : c.names()) {
    const TensorEntry& t = c.tensors().at(name);
    json shards = json::array();
    for (const auto& s : t.shards)
      shards.push_back({{"file", c.files()[s.file].file}, {"key", s.key}, {"begin", s.begin},
                        {"end", s.end}});
    tensors.push_back({{"name", name}, {"role", t.role}, {"dtype", "F32"}, {"shape", t.shape},
                       {"shards", shards}});
    if (t.role == "model") params += st::numel(t.shape);
  }
  const json& m = c.manifest();
  return {{"path", c.dir().string()}, {"format", m["format"]}, {"version", m["version"]},
          {"step", c.step()}, {"world", c.world()}, {"config", c.config()},
          {"options", c.options()}, {"extra", c.extra()}, {"rng", c.rng()},
          {"parameters", params}, {"checksum", "xxh64"}, {"files", files},
          {"tensors", tensors}};
}

void print_checkpoint(const json& j) {
  std::printf("checkpoint %s\n", j["path"].get<std::string>().c_str());
  std::printf("  format     %s v%d, written by %d rank(s)\n",
              j["format"].get<std::string>().c_str(), j["version"].get<int>(),
              j["world"].get<int>());
  std::printf("  step       %lld\n", static_cast<long long>(j["step"].get<int64_t>()));
  std::printf("  config     %s\n", config_line(j["config"]).c_str());
  std::printf("  parameters %lld\n", static_cast<long long>(j["parameters"].get<int64_t>()));
  std::printf("  options    %s\n", j["options"].dump().c_str());
  std::printf("  rng        %s\n", j["rng"].dump().c_str());
  std::printf("files (XXH64 checksums, all verified):\n");
  for (const auto& f : j["files"])
    std::printf("  %-34s %-9s rank %-3d %12llu bytes  %s  ok\n",
                f["file"].get<std::string>().c_str(), f["role"].get<std::string>().c_str(),
                f["rank"].get<int>(), static_cast<unsigned long long>(f["bytes"].get<uint64_t>()),
                f["xxh64"].get<std::string>().c_str());
  std::printf("tensors:\n");
  for (const auto& t : j["tensors"]) {
    size_t n = t["shards"].size();
    std::printf("  %-44s F32 %-14s %zu shard%s\n", t["name"].get<std::string>().c_str(),
                st::shape_str(t["shape"].get<std::vector<int64_t>>()).c_str(), n,
                n == 1 ? "" : "s");
  }
}

json file_json(const std::string& path) {
  st::Reader r(path);
  std::vector<st::TensorInfo> ts = r.tensors();  // in storage order
  std::stable_sort(ts.begin(), ts.end(), [](const auto& a, const auto& b) { return a.begin < b.begin; });
  json tensors = json::array();
  for (const auto& t : ts)
    tensors.push_back({{"name", t.name}, {"dtype", st::dtype_name(t.dtype)}, {"shape", t.shape},
                       {"data_offsets", {t.begin, t.end}}});
  json model;  // what plait makes of it as GPT-2 weights (fault/weights.h)
  try {
    const WeightSource w = WeightSource::open(path);
    model = {{"format", weight_format_name(w.format())}, {"dtype", st::dtype_name(w.dtype())},
             {"config", w.config().to_json()}};
  } catch (const UsageError& e) {
    model = {{"error", e.what()}};
  }
  return {{"file", path}, {"bytes", r.file_size()}, {"xxh64", hex64(xxh64_file(path))},
          {"metadata", r.metadata()}, {"model", model}, {"tensors", tensors}};
}

void print_file(const json& j) {
  std::printf("safetensors file %s: %llu bytes, XXH64 %s\n", j["file"].get<std::string>().c_str(),
              static_cast<unsigned long long>(j["bytes"].get<uint64_t>()),
              j["xxh64"].get<std::string>().c_str());
  const json& m = j["model"];
  if (m.contains("error"))
    std::printf("model: not loadable as GPT-2 weights: %s\n", m["error"].get<std::string>().c_str());
  else
    std::printf("model: %s GPT-2 weights, %s, %s\n", m["format"].get<std::string>().c_str(),
                m["dtype"].get<std::string>().c_str(), config_line(m["config"]).c_str());
  std::printf("metadata:\n");
  for (auto& [k, v] : j["metadata"].items())
    std::printf("  %-30s %s\n", k.c_str(), v.get<std::string>().c_str());
  std::printf("tensors:\n");
  for (const auto& t : j["tensors"])
    std::printf("  %-44s %-4s %s\n", t["name"].get<std::string>().c_str(),
                t["dtype"].get<std::string>().c_str(),
                st::shape_str(t["shape"].get<std::vector<int64_t>>()).c_str());
}

int run_inspect(const InspectOptions& o) {
  namespace stdfs = std::filesystem;
  std::string file = o.path;  // a weights directory (no manifest): its model.safetensors
  if (stdfs::is_directory(file) && stdfs::exists(file + "/model.safetensors") &&
      !stdfs::exists(file + "/manifest.json"))
    file += "/model.safetensors";
  bool single_file = stdfs::is_regular_file(file);
  json j = single_file ? file_json(file) : checkpoint_json(load_checkpoint(o.path));
  if (o.json) std::printf("%s\n", j.dump(2).c_str());
  else if (single_file) print_file(j);
  else print_checkpoint(j);
  return 0;
}

void add_inspect(Context& ctx) {
  auto opt = std::make_shared<InspectOptions>();
  auto* cmd = ctx.root.add_subcommand(
      "inspect", "show a checkpoint's config, step, tensors and (verified) checksums");
  cmd->add_option("path", opt->path,
                  "a run directory (its latest checkpoint), a checkpoint directory, or a "
                  ".safetensors file")
      ->required();
  cmd->add_flag("--json", opt->json, "machine-readable output");
  cmd->callback([&ctx, opt] { ctx.rc = run_inspect(*opt); });
}

Registrar reg("inspect", add_inspect);

}  // namespace
}  // namespace plait::cli
