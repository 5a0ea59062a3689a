#include "fault/export.h"

#include <algorithm>
#include <cstring>

#include "fault/float16.h"
#include "fault/fsutil.h"
#include "fault/hf_names.h"
#include "model/params.h"
#include "util/error.h"

namespace plait {
namespace {

namespace stdfs = std::filesystem;
namespace st = safetensors;
using nlohmann::json;

struct Planned {
  st::TensorSpec spec;   // as written
  std::string source;    // plait's name of the tensor it holds
  bool transpose = false;
  std::vector<int64_t> box;  // [0, box) of the source tensor (wte: its vocab rows, no padding)
};

std::vector<Planned> plan(const GPTConfig& cfg, ExportFormat format, st::DType dtype) {
  std::vector<Planned> out;
  const ParamTable table(cfg);
  for (const ParamSpec& s : table.specs()) {
    Planned p{{s.name, dtype, s.shape}, s.name, false, s.shape};
    if (&s == &table.wte()) p.spec.shape[0] = p.box[0] = cfg.vocab;  // padding rows dropped
    if (format == ExportFormat::hf) {
      p.spec.name = s.name.substr(std::strlen(hf::kPrefix));
      p.transpose = hf::conv1d_weight(s.name);
      if (p.transpose) std::swap(p.spec.shape[0], p.spec.shape[1]);
    }
    out.push_back(std::move(p));
  }
  if (format == ExportFormat::nanogpt)  // nanoGPT's state_dict lists the tied head too
    out.push_back({{"lm_head.weight", dtype, {cfg.vocab, cfg.dim}}, "transformer.wte.weight", false,
                   {cfg.vocab, cfg.dim}});
  return out;
}

// F32 values into the file's dtype.
std::vector<std::byte> encode(const std::vector<float>& v, st::DType dtype) {
  std::vector<std::byte> out(v.size() * st::dtype_size(dtype));
  if (dtype == st::DType::F32) {
    std::memcpy(out.data(), v.data(), out.size());
    return out;
  }
  for (size_t i = 0; i < v.size(); ++i) {
    const uint16_t h = dtype == st::DType::BF16 ? st::f32_to_bf16(v[i]) : st::f32_to_f16(v[i]);
    std::memcpy(out.data() + 2 * i, &h, 2);
  }
  return out;
}

std::map<std::string, std::string> metadata(const WeightSource& src, ExportFormat format) {
  std::map<std::string, std::string> md{{"format", "pt"},
                                        {"plait.layout", format == ExportFormat::hf ? "hf" : "nanogpt"},
                                        {"plait.source", src.where().string()}};
  const json cfg = src.config().to_json();
  for (auto& [k, v] : cfg.items()) md[k] = v.dump();
  if (const LoadedCheckpoint* ck = src.checkpoint()) md["plait.step"] = std::to_string(ck->step());
  return md;
}

// Writes `content` to path through path.tmp + rename.
void write_replace(const stdfs::path& path, const std::string& content) {
  fs::atomic_replace(path, content);
}

}  // namespace

std::vector<st::TensorSpec> export_specs(const GPTConfig& cfg, ExportFormat format, st::DType dtype) {
  std::vector<st::TensorSpec> out;
  for (Planned& p : plan(cfg, format, dtype)) out.push_back(std::move(p.spec));
  return out;
}

json hf_config(const GPTConfig& cfg, ExportFormat format, st::DType dtype) {
  json j = {{"architectures", {"GPT2LMHeadModel"}},
            {"model_type", "gpt2"},
            {"vocab_size", cfg.vocab},
            {"n_positions", cfg.ctx},
            {"n_ctx", cfg.ctx},
            {"n_embd", cfg.dim},
            {"n_layer", cfg.layers},
            {"n_head", cfg.heads},
            {"n_inner", nullptr},
            {"activation_function", "gelu_new"},
            {"layer_norm_epsilon", 1e-5},
            {"initializer_range", 0.02},
            {"resid_pdrop", 0.0},
            {"embd_pdrop", 0.0},
            {"attn_pdrop", 0.0},
            {"scale_attn_weights", true},
            {"tie_word_embeddings", true},
            {"use_cache", true},
            {"torch_dtype", dtype == st::DType::F32    ? "float32"
                            : dtype == st::DType::BF16 ? "bfloat16"
                                                       : "float16"}};
  if (format == ExportFormat::nanogpt)  // nanoGPT's GPTConfig fields
    j.update({{"block_size", cfg.ctx}, {"bias", true}, {"dropout", 0.0}});
  return j;
}

ExportResult export_weights(const WeightSource& src, const ExportOptions& opt) {
  if (opt.dtype != st::DType::F32 && opt.dtype != st::DType::BF16 && opt.dtype != st::DType::F16)
    throw UsageError(std::string("--dtype ") + st::dtype_name(opt.dtype) +
                     " is not an export dtype (f32, bf16, f16)");
  const bool one_file = opt.out.extension() == ".safetensors";
  std::error_code ec;
  if (!one_file) {
    stdfs::create_directories(opt.out, ec);
    if (ec) throw UsageError("'" + opt.out.string() + "': cannot create the directory: " + ec.message());
  } else if (!opt.out.parent_path().empty() && !stdfs::is_directory(opt.out.parent_path(), ec)) {
    throw UsageError("'" + opt.out.string() + "': its directory does not exist");
  }
  const stdfs::path weights = one_file ? opt.out : opt.out / "model.safetensors";
  const std::vector<Planned> tensors = plan(src.config(), opt.format, opt.dtype);
  std::vector<st::TensorSpec> specs;
  for (const Planned& p : tensors) specs.push_back(p.spec);

  ExportResult res;
  const stdfs::path tmp = weights.string() + ".tmp";
  {
    st::StreamWriter w(tmp, specs, metadata(src, opt.format));
    std::vector<float> t, tt;
    for (const Planned& p : tensors) {
      t.resize(static_cast<size_t>(st::numel(p.box)));  // plait's orientation, [out, in]
      src.read_box(p.source, std::vector<int64_t>(p.box.size(), 0), p.box, t);
      res.peak_floats = std::max(res.peak_floats, t.size() * (p.transpose ? 2 : 1));
      if (p.transpose) {  // [out, in] -> [in, out]
        const int64_t rows = p.spec.shape[1], cols = p.spec.shape[0];  // of t
        tt.resize(t.size());
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c)
            tt[static_cast<size_t>(c * rows + r)] = t[static_cast<size_t>(r * cols + c)];
        t.swap(tt);
      }
      w.put(encode(t, opt.dtype));
      ++res.tensors;
    }
    res.bytes = w.close().bytes;
  }
  fs::rename_path(tmp, weights);
  fs::fsync_dir(weights.parent_path().empty() ? stdfs::path(".") : weights.parent_path());
  res.files.push_back(weights);
  if (one_file) return res;

  write_replace(opt.out / "config.json", hf_config(src.config(), opt.format, opt.dtype).dump(2) + "\n");
  res.files.push_back(opt.out / "config.json");
  json tok = {{"type", opt.tokenizer_type}, {"vocab_size", src.config().vocab}, {"files", json::array()}};
  if (opt.tokenizer_type == "bytes") tok["ids"] = "token i is the byte i (0..255)";
  for (const auto& [name, content] : opt.tokenizer_files) {
    write_replace(opt.out / name, content);
    res.files.push_back(opt.out / name);
    tok["files"].push_back(name);
  }
  // GPT-2's files again under the names Hugging Face's GPT2Tokenizer loads.
  for (const auto& [ours, hf] : {std::pair{"encoder.json", "vocab.json"}, {"vocab.bpe", "merges.txt"}})
    if (const auto it = opt.tokenizer_files.find(ours); it != opt.tokenizer_files.end()) {
      write_replace(opt.out / hf, it->second);
      res.files.push_back(opt.out / hf);
    }
  write_replace(opt.out / "plait_tokenizer.json", tok.dump(2) + "\n");
  res.files.push_back(opt.out / "plait_tokenizer.json");
  return res;
}

}  // namespace plait
