#include "fault/weights.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "fault/checkpoint_names.h"
#include "fault/float16.h"
#include "fault/finite.h"
#include "fault/fsutil.h"
#include "fault/hf_names.h"
#include "util/error.h"

namespace plait {
namespace {

namespace stdfs = std::filesystem;
namespace st = safetensors;
using nlohmann::json;

using hf::conv1d_weight;
using hf::kPrefix;
constexpr const char* kHead = "lm_head.weight";

// The causal-mask buffers Hugging Face (and nanoGPT without flash attention) store.
bool mask_buffer(const std::string& key) {
  return key.ends_with(".attn.bias") || key.ends_with(".attn.masked_bias");
}

size_t elems(const std::vector<int64_t>& shape) { return static_cast<size_t>(st::numel(shape)); }

// n elements of dtype `t` at `src` into F32 at `dst`.
void to_f32(st::DType t, const std::byte* src, size_t n, float* dst) {
  switch (t) {
    case st::DType::F32: std::memcpy(dst, src, n * 4); return;
    case st::DType::F16:
    case st::DType::BF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = t == st::DType::F16 ? st::f16_to_f32(h) : st::bf16_to_f32(h);
      }
      return;
    default: throw std::invalid_argument("to_f32: unsupported dtype");
  }
}

bool supported(st::DType t) {
  return t == st::DType::F32 || t == st::DType::F16 || t == st::DType::BF16;
}

// An integer field of config.json, or -1 when absent / null.
int int_field(const json& j, std::initializer_list<const char*> keys) {
  for (const char* k : keys)
    if (j.contains(k) && j[k].is_number_integer()) return j[k].get<int>();
  return -1;
}

}  // namespace

const char* weight_format_name(WeightFormat f) {
  switch (f) {
    case WeightFormat::plait_checkpoint: return "plait checkpoint";
    case WeightFormat::hf: return "hf";
    case WeightFormat::nanogpt: return "nanogpt";
  }
  return "?";
}

void WeightSource::bad(const std::string& problem) const {
  throw UsageError("'" + where_.string() + "': " + problem);
}

WeightSource WeightSource::open(const stdfs::path& path) {
  WeightSource s;
  std::error_code ec;
  if (stdfs::is_directory(path, ec) && stdfs::exists(path / "model.safetensors") &&
      !stdfs::exists(path / ckpt::kManifest)) {
    s.open_file(path / "model.safetensors");
  } else if (stdfs::is_regular_file(path, ec)) {
    s.open_file(path);
  } else {
    s.ckpt_.emplace(load_checkpoint(path));  // its own messages for a missing path
    s.where_ = s.ckpt_->dir();
    s.cfg_ = GPTConfig::from_json(s.ckpt_->config());
    s.check_tensors();
  }
  return s;
}

void WeightSource::open_file(const stdfs::path& file) {
  where_ = file;
  file_ = std::make_unique<st::Reader>(file);
  for (const auto& [k, v] : file_->metadata())
    if (k.starts_with(ckpt::kSlicePrefix))
      bad("holds a shard of a sharded checkpoint ('" + k + "'): name the checkpoint directory");
  map_keys();
  choose_config(file.parent_path() / "config.json");
  check_tensors();
  check_tied_head();
}

// Names in the file -> plait names; the format from the names and c_attn's shape.
void WeightSource::map_keys() {
  bool bare = false;  // Hugging Face's names without "transformer."
  for (const st::TensorInfo& t : file_->tensors()) {
    if (t.name == kHead) { head_key_ = t.name; continue; }
    if (mask_buffer(t.name)) continue;
    std::string name = t.name;
    if (!name.starts_with(kPrefix)) name = kPrefix + name, bare = true;
    if (!supported(t.dtype))
      bad("tensor '" + t.name + "' is " + st::dtype_name(t.dtype) +
          "; weights must be F32, F16 or BF16");
    if (st::dtype_size(t.dtype) > st::dtype_size(dtype_) || stored_.empty()) dtype_ = t.dtype;
    if (!stored_.emplace(name, Stored{t.name, false}).second)
      bad("tensor '" + t.name + "' appears twice (with and without 'transformer.')");
  }
  const auto qkv = stored_.find("transformer.h.0.attn.c_attn.weight");
  const auto wte = stored_.find("transformer.wte.weight");
  if (qkv == stored_.end() || wte == stored_.end())
    bad(std::string("tensor '") + (wte == stored_.end() ? "wte.weight" : "h.0.attn.c_attn.weight") +
        "' is missing: not a GPT-2 model");
  const auto& qs = file_->find(qkv->second.key)->shape;
  const auto& ws = file_->find(wte->second.key)->shape;
  const int64_t C = ws.size() == 2 ? ws[1] : -1;
  const bool conv1d = qs.size() == 2 && qs[0] == C && qs[1] == 3 * C;
  if (!conv1d && !(qs.size() == 2 && qs[0] == 3 * C && qs[1] == C))
    bad("tensor '" + qkv->second.key + "' has shape " + st::shape_str(qs) + ", expected [" +
        std::to_string(C) + ", " + std::to_string(3 * C) + "] (Hugging Face Conv1D) or [" +
        std::to_string(3 * C) + ", " + std::to_string(C) + "] (nanoGPT) from wte's dim");
  format_ = conv1d || bare ? WeightFormat::hf : WeightFormat::nanogpt;
  for (auto& [name, s] : stored_) s.transposed = conv1d && conv1d_weight(name);
}

// The config: plait's keys in __metadata__, else config.json, else the shapes (all but
// the head count).
void WeightSource::choose_config(const stdfs::path& config_json) {
  const auto& md = file_->metadata();
  if (md.count("layers") && md.count("heads")) {
    json j = json::object();
    for (const char* k : {"vocab", "ctx", "layers", "dim", "heads"})
      if (md.count(k)) j[k] = md.at(k);
    try { cfg_ = GPTConfig::from_json(j); }
    catch (const UsageError& e) { bad(std::string("__metadata__: ") + e.what()); }
    return;
  }
  const auto& ws = file_->find(stored_.at("transformer.wte.weight").key)->shape;
  const auto wpe = stored_.find("transformer.wpe.weight");
  if (ws.size() != 2 || wpe == stored_.end() || file_->find(wpe->second.key)->shape.size() != 2)
    bad("tensors 'wte.weight' [V, C] and 'wpe.weight' [T, C] are needed");
  for (int64_t d : {ws[0], ws[1], file_->find(wpe->second.key)->shape[0]})
    if (d > (int64_t(1) << 30)) bad("'wte.weight' or 'wpe.weight' has an impossibly large shape");
  cfg_.vocab = static_cast<int>(ws[0]);
  cfg_.dim = static_cast<int>(ws[1]);
  cfg_.ctx = static_cast<int>(file_->find(wpe->second.key)->shape[0]);
  cfg_.layers = 0;  // config.json's n_layer wins: then a missing or extra block is named
  while (stored_.count("transformer.h." + std::to_string(cfg_.layers) + ".ln_1.weight"))
    ++cfg_.layers;
  cfg_.heads = -1;
  std::error_code ec;
  if (stdfs::is_regular_file(config_json, ec)) {
    const std::string where = "'" + config_json.string() + "': ";
    const json j = json::parse(fs::read_file(config_json), nullptr, false);
    if (!j.is_object()) throw UsageError(where + "not a JSON object");
    auto arch = [&](bool ok, const std::string& what) {
      if (!ok) throw UsageError(where + what + ": not the GPT-2 architecture plait trains");
    };
    if (j.contains("model_type"))
      arch(j["model_type"] == "gpt2", "model_type " + j["model_type"].dump());
    if (j.contains("activation_function"))
      arch(j["activation_function"] == "gelu_new" ||
               j["activation_function"] == "gelu_pytorch_tanh",
           "activation_function " + j["activation_function"].dump() + " (plait: GELU tanh)");
    if (j.contains("layer_norm_epsilon") && j["layer_norm_epsilon"].is_number())
      arch(std::fabs(j["layer_norm_epsilon"].get<double>() - 1e-5) < 1e-12,
           "layer_norm_epsilon " + j["layer_norm_epsilon"].dump() + " (plait: 1e-5)");
    arch(!(j.contains("tie_word_embeddings") && j["tie_word_embeddings"] == false),
         "tie_word_embeddings false (plait ties the LM head to wte)");
    arch(!(j.contains("add_cross_attention") && j["add_cross_attention"] == true),
         "add_cross_attention true");
    arch(!(j.contains("scale_attn_by_inverse_layer_idx") &&
           j["scale_attn_by_inverse_layer_idx"] == true),
         "scale_attn_by_inverse_layer_idx true");
    const int inner = int_field(j, {"n_inner"});
    arch(inner < 0 || inner == 4 * cfg_.dim, "n_inner " + std::to_string(inner) + " (plait: 4 x n_embd)");
    auto same = [&](std::initializer_list<const char*> keys, int have, const char* what) {
      const int v = int_field(j, keys);
      if (v >= 0 && v != have)
        throw UsageError(where + *keys.begin() + " is " + std::to_string(v) + " but the weights' " +
                         what + " is " + std::to_string(have));
    };
    same({"n_embd", "dim"}, cfg_.dim, "dim");
    if (int_field(j, {"n_layer", "layers"}) > 0) cfg_.layers = int_field(j, {"n_layer", "layers"});
    const int vocab = int_field(j, {"vocab_size", "vocab"});  // wte may have padded rows
    if (vocab > 0 && (vocab + 63) / 64 * 64 == cfg_.vocab) cfg_.vocab = vocab;
    same({"vocab_size", "vocab"}, cfg_.vocab, "vocabulary (wte rows)");
    same({"n_positions", "n_ctx", "block_size", "ctx"}, cfg_.ctx, "context (wpe rows)");
    cfg_.heads = int_field(j, {"n_head", "heads"});
    if (cfg_.heads <= 0) throw UsageError(where + "no n_head: the number of attention heads");
  }
  if (cfg_.heads <= 0)
    bad("the number of attention heads is unknown: no config.json beside the file and no "
        "'heads' in its __metadata__");
  try { cfg_.validate(); }
  catch (const UsageError& e) { bad(e.what()); }
}

// Every tensor of the model present with its shape, nothing left over.
void WeightSource::check_tensors() {
  const ParamTable table(cfg_);
  if (ckpt_) {
    for (const ParamSpec& s : table.specs())
      if (ckpt_->shape(s.name) != s.shape)  // shape() names a missing tensor
        bad("tensor '" + s.name + "' has shape " + st::shape_str(ckpt_->shape(s.name)) +
            ", the config " + ckpt_->config().dump() + " needs " + st::shape_str(s.shape));
    for (const auto& [name, t] : ckpt_->tensors())
      if (t.role == "model" && table.find(name) < 0)
        bad("extra tensor '" + name + "': not part of the model " + ckpt_->config().dump());
    return;
  }
  const bool hf = format_ == WeightFormat::hf;
  auto shown = [&](const std::string& name) {  // the name the way this file spells it
    return hf && name.starts_with(kPrefix) ? name.substr(std::strlen(kPrefix)) : name;
  };
  for (const ParamSpec& s : table.specs()) {
    const auto it = stored_.find(s.name);
    if (it == stored_.end())
      bad("tensor '" + shown(s.name) + "' is missing (a " + std::to_string(cfg_.layers) +
          "-layer model needs it)");
    std::vector<int64_t> want = s.shape;
    if (it->second.transposed) std::swap(want[0], want[1]);
    const auto& have = file_->find(it->second.key)->shape;
    const bool unpadded_wte = &s == &table.wte() && have == std::vector<int64_t>{cfg_.vocab, cfg_.dim};
    if (have != want && !unpadded_wte)
      bad("tensor '" + it->second.key + "' has shape " + st::shape_str(have) + ", expected " +
          st::shape_str(want) + (it->second.transposed ? " (Conv1D [in, out])" : ""));
  }
  for (const auto& [name, s] : stored_)
    if (table.find(name) < 0)
      bad("extra tensor '" + s.key + "': not part of a " + std::to_string(cfg_.layers) +
          "-layer GPT-2");
  if (!head_key_.empty()) {
    const std::vector<int64_t> want = file_->find(stored_.at("transformer.wte.weight").key)->shape;
    const auto& t = *file_->find(head_key_);
    if (t.shape != want)
      bad("tensor 'lm_head.weight' has shape " + st::shape_str(t.shape) + ", expected " +
          st::shape_str(want) + " (tied to wte)");
    if (!supported(t.dtype))
      bad("tensor 'lm_head.weight' is " + std::string(st::dtype_name(t.dtype)) +
          "; weights must be F32, F16 or BF16");
  }
}

// GPT-2 ties the LM head to wte: a separate lm_head.weight must hold the same values
// (compared a block of rows at a time, so memory stays small).
void WeightSource::check_tied_head() const {
  if (head_key_.empty()) return;
  const std::string wte = stored_.at("transformer.wte.weight").key;
  const int64_t rows = file_->find(wte)->shape[0], step = std::max<int64_t>(1, (1 << 20) / cfg_.dim);
  std::vector<float> a, b;
  for (int64_t r = 0; r < rows; r += step) {
    const int64_t e = std::min(rows, r + step);
    a.resize(static_cast<size_t>((e - r) * cfg_.dim)), b.resize(a.size());
    read_rows(wte, r, e, a);
    read_rows(head_key_, r, e, b);
    for (size_t i = 0; i < a.size(); ++i)
      if (a[i] != b[i] && !(std::isnan(a[i]) && std::isnan(b[i])))
        bad("tensor 'lm_head.weight' differs from wte at row " +
            std::to_string(r + static_cast<int64_t>(i) / cfg_.dim) +
            ": plait's GPT-2 ties the LM head to the token embedding");
  }
}

void WeightSource::read_rows(const std::string& key, int64_t r0, int64_t r1,
                             std::span<float> out) const {
  const st::TensorInfo& t = *file_->find(key);
  const size_t row = t.shape.empty() ? 1 : elems(t.shape) / static_cast<size_t>(std::max<int64_t>(1, t.shape[0]));
  const size_t n = static_cast<size_t>(r1 - r0) * row, dsize = st::dtype_size(t.dtype);
  if (out.size() != n) throw std::invalid_argument("read_rows: output size does not match");
  st::TensorInfo part = t;
  part.begin = t.begin + static_cast<uint64_t>(r0) * row * dsize;
  part.end = part.begin + n * dsize;
  if (t.dtype == st::DType::F32) return file_->read_bytes(part, std::as_writable_bytes(out));
  std::vector<std::byte> raw(n * dsize);
  file_->read_bytes(part, raw);
  to_f32(t.dtype, raw.data(), n, out.data());
}

void WeightSource::read_box(const std::string& name, const std::vector<int64_t>& begin,
                            const std::vector<int64_t>& end, std::span<float> out) const {
  if (ckpt_) return ckpt_->read_slice(name, begin, end, out);
  const auto it = stored_.find(name);
  if (it == stored_.end()) bad("tensor '" + name + "' is missing");
  const std::vector<int64_t>& fshape = file_->find(it->second.key)->shape;
  bool ok = begin.size() == fshape.size() && end.size() == fshape.size() && !begin.empty();
  std::vector<int64_t> full = fshape;
  if (it->second.transposed) std::swap(full[0], full[1]);
  const int64_t file_rows = full[0];
  const bool wte = name == "transformer.wte.weight";
  if (wte) full[0] = ParamTable(cfg_).wte().shape[0];  // may be padded past the file's rows
  for (size_t k = 0; ok && k < begin.size(); ++k) ok = 0 <= begin[k] && begin[k] <= end[k] && end[k] <= full[k];
  size_t n = 1;
  for (size_t k = 0; ok && k < begin.size(); ++k) n *= static_cast<size_t>(end[k] - begin[k]);
  if (!ok || n != out.size()) throw std::invalid_argument("read_box: bad box of '" + name + "'");
  if (wte && end[0] > file_rows) {  // the vocabulary's padding rows: zero (those ids never occur)
    const int64_t pad0 = std::max(begin[0], file_rows);
    const size_t cols = static_cast<size_t>(end[1] - begin[1]);
    std::fill(out.begin() + static_cast<long>(static_cast<size_t>(pad0 - begin[0]) * cols), out.end(), 0.0f);
    if (pad0 == begin[0]) return;
    std::vector<int64_t> e = end;
    e[0] = file_rows;
    return read_box(name, begin, e, out.first(static_cast<size_t>(file_rows - begin[0]) * cols));
  }
  if (n == 0) return;
  if (full.size() == 1) return read_rows(it->second.key, begin[0], end[0], out);
  const int64_t rows = end[0] - begin[0], cols = end[1] - begin[1];
  std::vector<float> buf;
  if (!it->second.transposed) {  // file rows [begin0, end0), then the columns wanted
    if (cols == full[1]) return read_rows(it->second.key, begin[0], end[0], out);
    buf.resize(static_cast<size_t>(rows * full[1]));
    read_rows(it->second.key, begin[0], end[0], buf);
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(out.data() + r * cols, buf.data() + r * full[1] + begin[1], static_cast<size_t>(cols) * 4);
    return;
  }
  // Conv1D: the file holds W^T [in, out]; W's box rows [b0,e0) x cols [b1,e1) is the
  // file's rows [b1,e1) x cols [b0,e0), transposed.
  buf.resize(static_cast<size_t>(cols * full[0]));
  read_rows(it->second.key, begin[1], end[1], buf);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[static_cast<size_t>(r * cols + c)] = buf[static_cast<size_t>(c * full[0] + begin[0] + r)];
}

std::vector<float> WeightSource::read(const std::string& name) const {
  const ParamTable table(cfg_);
  const int i = table.find(name);
  if (i < 0) bad("tensor '" + name + "' is not part of the model");
  const ParamSpec& s = table.specs()[static_cast<size_t>(i)];
  std::vector<float> out(s.size);
  read_box(name, std::vector<int64_t>(s.shape.size(), 0), s.shape, out);
  return out;
}

// ---- into a model's arena ----------------------------------------------------------

std::string weights_mismatch(const GPTConfig& source, const GPTConfig& model) {
  auto diff = [](const char* what, int have, int want) {
    return std::string(what) + " " + std::to_string(want) + " differs from the weights' " +
           std::to_string(have);
  };
  if (model.layers != source.layers) return diff("layers", source.layers, model.layers);
  if (model.dim != source.dim) return diff("dim", source.dim, model.dim);
  if (model.heads != source.heads) return diff("heads", source.heads, model.heads);
  if (model.vocab != source.vocab) return diff("vocab", source.vocab, model.vocab);
  if (model.ctx > source.ctx)
    return "ctx " + std::to_string(model.ctx) + " is longer than the weights' " +
           std::to_string(source.ctx) + " positions (wpe rows)";
  return "";
}

namespace {

void check_fits(const WeightSource& src, const GPTConfig& model) {
  const std::string why = weights_mismatch(src.config(), model);
  if (!why.empty()) throw UsageError("'" + src.where().string() + "': the model's " + why);
}

// 'path' (appended piecewise: GCC 12's -Wrestrict misfires on "'" + s + "'").
std::string quoted(const stdfs::path& p) {
  std::string s(1, '\'');
  s += p.string();
  s += '\'';
  return s;
}

}  // namespace

void read_weights(const WeightSource& src, const ParamTable& table, std::span<float> arena) {
  check_fits(src, table.config());
  for (const ParamSpec& s : table.specs()) {  // wpe: its first ctx rows when ctx is shorter
    src.read_box(s.name, std::vector<int64_t>(s.shape.size(), 0), s.shape,
                 arena.subspan(s.offset, s.size));
    check_finite(arena.subspan(s.offset, s.size), quoted(src.where()), s.name);
  }
}

void read_weights(const WeightSource& src, const ShardTable& shard, std::span<float> arena) {
  check_fits(src, shard.config());
  for (const ShardSpec& s : shard.specs()) {
    size_t at = s.local.offset;
    for (const Box& b : s.boxes) {
      const size_t n = elems(b.shape());
      src.read_box(s.local.name, b.begin, b.end, arena.subspan(at, n));
      check_finite(arena.subspan(at, n), quoted(src.where()), s.local.name);
      at += n;
    }
  }
}

}  // namespace plait
