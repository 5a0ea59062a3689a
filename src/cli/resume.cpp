#include "cli/resume.h"

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "cli/train_flags.h"
#include "fault/checkpoint.h"
#include "fault/memory_snapshot.h"
#include "parallel/peer_snapshot.h"
#include "util/error.h"
#include "util/files.h"

namespace plait::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kRunFile = "train.json";

// The shortest text that reads back as the same value (0.002f -> "0.002").
template <class T>
std::string text_of(T v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

template <class T>
bool same_value(const std::string& text, T v) {
  try {
    if constexpr (std::is_floating_point_v<T>) return static_cast<T>(std::stod(text)) == v;
    else return static_cast<T>(std::stoll(text)) == v;
  } catch (const std::exception&) {
    return false;
  }
}

bool has_checkpoint(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  if (fs::exists(dir / "latest")) return true;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename().string().rfind("step-", 0) == 0) return true;
  return false;
}

nlohmann::json read_json(const fs::path& p) {
  const std::string text = read_regular_file(p.string(), "--resume: file", 64ull << 20);
  try {
    return nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw UsageError("--resume: '" + p.string() + "' is not valid JSON");
  }
}

// Reconciles the flags with one checkpoint.
class FromCheckpoint {
 public:
  FromCheckpoint(const CLI::App& cmd, const fs::path& ckpt, const nlohmann::json& run)
      : cmd_(cmd), ckpt_(ckpt), run_(run) {}

  // Sets `field` to the checkpoint's value `have`, unless the user gave `flag` with
  // another value: then a UsageError naming both, as they were written.
  template <class T>
  void take(const char* flag, const nlohmann::json& have, T& field) {
    const T want = have.get<T>();
    if (given(cmd_, flag) && field != want) {
      const auto& typed = cmd_.get_option(flag)->results();
      throw UsageError("--resume: " + std::string(flag) + " " + (typed.empty() ? "" : typed.back()) +
                       " disagrees with the checkpoint " + ckpt_.string() + ", made with " +
                       flag + " " + written(flag, want) + " (drop " + flag +
                       " to continue that run, or start a new one in another --checkpoint-dir)");
    }
    field = want;
  }

 private:
  // The checkpoint's value as the run's first invocation wrote it, when train.json
  // has it (and it still reads as that value); else its shortest text.
  template <class T>
  std::string written(const char* flag, T v) const {
    const auto flags = run_.value("flags", nlohmann::json::object());
    if (flags.contains(flag) && flags[flag].is_string()) {
      const std::string text = flags[flag].get<std::string>();
      if (same_value(text, v)) return text;
    }
    return text_of(v);
  }

  const CLI::App& cmd_;
  fs::path ckpt_;
  nlohmann::json run_;
};

void take_settings(const CLI::App& cmd, const fs::path& ckpt, TrainOptions& opt) {
  const nlohmann::json manifest = read_json(ckpt / "manifest.json");
  const fs::path run_file = ckpt.parent_path() / kRunFile;
  const nlohmann::json run = fs::exists(run_file) ? read_json(run_file) : nlohmann::json::object();
  if (!manifest.contains("options") || !manifest["options"].contains("model"))
    throw UsageError("--resume: " + (ckpt / "manifest.json").string() +
                     " has no training options (not a checkpoint of plait train)");
  const nlohmann::json& o = manifest["options"];
  FromCheckpoint c(cmd, ckpt, run);
  try {
    const nlohmann::json& m = o.at("model");
    c.take("--layers", m.at("layers"), opt.model.layers);
    c.take("--dim", m.at("dim"), opt.model.dim);
    c.take("--heads", m.at("heads"), opt.model.heads);
    c.take("--ctx", m.at("ctx"), opt.model.ctx);
    opt.model.vocab = m.at("vocab").get<int>();
    c.take("--batch", o.at("batch"), opt.batch);
    c.take("--steps", o.at("steps"), opt.steps);
    c.take("--lr", o.at("lr"), opt.lr);
    c.take("--warmup", o.at("warmup"), opt.warmup);
    c.take("--seed", o.at("seed"), opt.seed);
    c.take("--weight-decay", o.at("weight_decay"), opt.adamw.weight_decay);
    c.take("--clip", o.at("clip_norm"), opt.adamw.clip_norm);
  } catch (const nlohmann::json::exception& e) {
    throw UsageError("--resume: " + (ckpt / "manifest.json").string() +
                     " lacks a training option (" + e.what() + ")");
  }
  // The balancing mode (docs/BALANCE.md): the run's own, unless given again, so that a
  // run with a fixed split resumes with it.
  const nlohmann::json extra = manifest.value("extra", nlohmann::json::object());
  if (!given(cmd, "--balance") && extra.contains("balance") && extra["balance"].contains("mode"))
    opt.balance = parse_balance_flag(extra["balance"]["mode"].get<std::string>());
  // The corpus: as the run named it, unless given again (its hash is checked on load).
  if (!given(cmd, "--data") && run.contains("data"))
    opt.data = run["data"].get<std::vector<std::string>>();
}

}  // namespace

Resume resume_mode(const CLI::App& cmd) {
  const CLI::Option* flag = cmd.get_option_no_throw("--resume");
  if (flag == nullptr || flag->count() == 0) return Resume::no;
  const auto& values = flag->results();
  const std::string v = values.empty() ? "" : values.back();
  if (v.empty()) return Resume::latest;
  if (v == "auto") return Resume::auto_;
  throw UsageError("--resume takes no value or 'auto', got '" + v + "'");
}

bool apply_resume(const CLI::App& cmd, Resume mode, TrainOptions& opt) {
  opt.resume = false;
  if (mode == Resume::no) return true;
  if (opt.checkpoint_dir.empty())
    throw UsageError("--resume needs --checkpoint-dir (where to find the latest checkpoint)");
  lose_snapshot_for_test(opt.memory_snapshot_dir, opt.checkpoint_dir);
  // this node's memory snapshots: rank 0's copy, or the peer's (parallel/peer_snapshot.h)
  std::string mem_dir = opt.memory_snapshot_dir;
  int64_t in_memory = fault::latest_step(mem_dir);
  if (!mem_dir.empty() && fault::latest_step(peer_snapshot_dir(mem_dir)) > in_memory) {
    mem_dir = peer_snapshot_dir(mem_dir);
    in_memory = fault::latest_step(mem_dir);
  }
  if (mode == Resume::auto_ && !has_checkpoint(opt.checkpoint_dir) && in_memory < 0 &&
      !opt.memory_snapshot_dir.empty()) {
    // another node may hold the peer's copy: the ranks decide together (start_replica),
    // starting a new run when nobody has anything
    opt.resume = true;
    return true;
  }
  if (mode == Resume::auto_ && !has_checkpoint(opt.checkpoint_dir) && in_memory < 0) {
    if (opt.progress && first_process())
      std::fprintf(stderr, "--resume auto: no checkpoint in %s yet, starting a new run\n",
                   opt.checkpoint_dir.c_str());
    return true;
  }
  // The settings of the checkpoint the run resumes from (parallel/train_state.h's
  // start_state: the memory snapshot when it is newer; both hold the same options).
  const fs::path ckpt = in_memory > fault::latest_step(opt.checkpoint_dir)
                            ? latest_checkpoint(mem_dir)
                            : latest_checkpoint(opt.checkpoint_dir);
  take_settings(cmd, ckpt, opt);
  opt.resume = true;
  const int64_t step = read_json(ckpt / "manifest.json").value("step", int64_t{0});
  if (mode == Resume::auto_ && step >= opt.steps) {
    if (first_process())
      std::fprintf(stderr, "--resume auto: the run in %s is complete (step %lld of %lld)\n",
                   opt.checkpoint_dir.c_str(), static_cast<long long>(step),
                   static_cast<long long>(opt.steps));
    return false;
  }
  return true;
}

void record_run(const CLI::App& cmd, const TrainOptions& opt) {
  if (opt.checkpoint_dir.empty() || opt.resume) return;
  nlohmann::json flags = nlohmann::json::object();
  for (const CLI::Option* o : cmd.get_options()) {
    if (o->count() == 0 || o->get_name().rfind("--", 0) != 0) continue;
    std::string text;
    for (const auto& r : o->results()) text += (text.empty() ? "" : ",") + r;
    flags[o->get_name()] = text;
  }
  std::vector<std::string> data;
  for (const auto& d : opt.data) data.push_back(fs::absolute(d).lexically_normal().string());
  const nlohmann::json run = {{"data", data}, {"flags", flags}};
  // Written to a temporary name and renamed, so concurrent writers (MPI ranks) and a
  // crash leave either no file or a whole one.
  const fs::path dir(opt.checkpoint_dir);
  const fs::path tmp = dir / (std::string(kRunFile) + ".tmp" + std::to_string(::getpid()));
  {
    std::ofstream f(tmp);
    f << run.dump(2) << "\n";
    if (!f) throw RuntimeError("cannot write '" + tmp.string() + "'");
  }
  fs::rename(tmp, dir / kRunFile);
}

}  // namespace plait::cli
