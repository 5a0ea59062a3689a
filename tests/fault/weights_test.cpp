// Import and export of GPT-2 weights (fault/weights.h, fault/export.h) against the
// fixture tools/make_hf_fixture.py writes with PyTorch in Hugging Face's layout:
// logits, Conv1D orientation, F16/BF16 decoding and rounding, nanoGPT names, shards,
// and one-line errors for every bad file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "fault/export.h"
#include "fault/float16.h"
#include "fault/weights.h"
#include "fault_helpers.h"
#include "model/gpt.h"
#include "model/shard_table.h"

namespace plait {
namespace {

namespace st = safetensors;
using fault_testing::TempDir;

ExportOptions to(ExportFormat f, st::DType dt, const std::filesystem::path& out) {
  ExportOptions o;
  o.format = f, o.dtype = dt, o.out = out;
  return o;
}
using fault_testing::expect_usage_error;

const std::filesystem::path kDir = std::filesystem::path(PLAIT_SOURCE_DIR) / "tests/fixtures/gpt2_hf";

GPT import(const std::filesystem::path& p) {
  const WeightSource src = WeightSource::open(p);
  GPT m(src.config());
  read_weights(src, m.table(), m.params);
  return m;
}

// ---- the 16-bit formats ------------------------------------------------------------

TEST(Float16, EveryHalfRoundTripsExactly) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = st::f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) { EXPECT_TRUE(std::isnan(st::f16_to_f32(st::f32_to_f16(f)))); continue; }
    ASSERT_EQ(st::f32_to_f16(f), h) << std::hex << h;
    const float b = st::bf16_to_f32(static_cast<uint16_t>(h));
    if (!std::isnan(b)) {
      ASSERT_EQ(st::f32_to_bf16(b), h) << std::hex << h;
    }
  }
}

TEST(Float16, RoundsToNearestEven) {
  EXPECT_EQ(st::f32_to_f16(65504.0f), 0x7bff);           // the largest half
  EXPECT_EQ(st::f32_to_f16(65519.0f), 0x7bff);           // rounds down
  EXPECT_EQ(st::f32_to_f16(65520.0f), 0x7c00);           // the tie goes to infinity (even)
  EXPECT_EQ(st::f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(st::f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // tie: to even (zero)
  EXPECT_EQ(st::f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);  // tie: to even (2)
  EXPECT_EQ(st::f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie to even
  EXPECT_EQ(st::f32_to_f16(1.0f + std::ldexp(3.0f, -11)), 0x3c02);      // tie to even
  EXPECT_EQ(st::f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);      // tie to even
  EXPECT_EQ(st::f32_to_bf16(1.0f + std::ldexp(3.0f, -8)), 0x3f82);
  EXPECT_EQ(st::f32_to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
  EXPECT_TRUE(std::isnan(st::bf16_to_f32(st::f32_to_bf16(std::nanf("")))));
}

// ---- import ----------------------------------------------------------------------

TEST(Import, HuggingFaceGpt2ReproducesPyTorchLogits) {
  const WeightSource src = WeightSource::open(kDir);
  EXPECT_EQ(src.format(), WeightFormat::hf);
  EXPECT_EQ(src.config(), (GPTConfig{256, 32, 2, 32, 4}));  // from config.json
  GPT m = import(kDir);
  const st::Reader ref(kDir / "reference.safetensors");
  const std::vector<int32_t> tokens = ref.read_i32("tokens");
  const std::vector<float> want = ref.read_f32("logits");
  const int B = 2, T = 32, V = 256;
  m.forward(tokens.data(), nullptr, B, T);
  double diff = 0, scale = 0;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int v = 0; v < V; ++v) {
        const double w = want[static_cast<size_t>((b * T + t) * V + v)];
        diff = std::max(diff, std::fabs(m.logits(b, t)[v] - w));
        scale = std::max(scale, std::fabs(w));
      }
  EXPECT_LT(diff / scale, 1e-4) << "max |diff| " << diff << " at scale " << scale;
}

TEST(Import, ConvOneDWeightsAreTransposed) {
  const WeightSource src = WeightSource::open(kDir / "model.safetensors");
  const st::Reader file(kDir / "model.safetensors");
  const std::vector<float> hf = file.read_f32("h.1.mlp.c_fc.weight");  // [C, 4C]
  const std::vector<float> ours = src.read("transformer.h.1.mlp.c_fc.weight");  // [4C, C]
  const int C = 32;
  for (int o = 0; o < 4 * C; ++o)
    for (int i = 0; i < C; ++i) ASSERT_EQ(ours[o * C + i], hf[i * 4 * C + o]);
}

TEST(Import, NanoGptLayoutGivesTheSameModel) {
  const WeightSource src = WeightSource::open(kDir / "nanogpt.safetensors");
  EXPECT_EQ(src.format(), WeightFormat::nanogpt);
  EXPECT_EQ(import(kDir / "nanogpt.safetensors").params, import(kDir).params);
}

// torch's .half() / .bfloat16() of the same weights: plait decodes them exactly, and
// its own rounding of the F32 weights gives the same values.
TEST(Import, HalfAndBfloat16FilesDecodeToTorchsRounding) {
  const std::vector<float> f32 = import(kDir).params;
  for (auto [file, round] : {std::pair{"model-f16.safetensors", +[](float x) { return st::f16_to_f32(st::f32_to_f16(x)); }},
                             std::pair{"model-bf16.safetensors", +[](float x) { return st::bf16_to_f32(st::f32_to_bf16(x)); }}}) {
    const std::vector<float> got = import(kDir / file).params;
    ASSERT_EQ(got.size(), f32.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], round(f32[i])) << file << " at " << i;
  }
}

TEST(Import, ShardBoxesOfEveryLayoutMatchTheWholeModel) {
  const WeightSource src = WeightSource::open(kDir);
  const GPT whole = import(kDir);
  for (int tp : {1, 2, 4})
    for (auto [lb, le, first, last] : {std::tuple{0, 1, true, false}, std::tuple{1, 2, false, true}}) {
      const ShardTable t(src.config(), ShardLayout{tp, tp - 1, lb, le, first, last});
      std::vector<float> got(t.total()), want(t.total());
      read_weights(src, t, got);
      gather_shard(whole.table(), whole.params, t, want);
      EXPECT_EQ(got, want) << "tp " << tp << " layers " << lb;
    }
}

TEST(Import, ShorterContextTakesTheFirstPositions) {
  const WeightSource src = WeightSource::open(kDir);
  GPTConfig c = src.config();
  c.ctx = 8;
  GPT m(c);
  read_weights(src, m.table(), m.params);
  const std::vector<float> wpe = src.read("transformer.wpe.weight");
  const ParamSpec& s = m.table().wpe();
  EXPECT_TRUE(std::equal(m.params.begin() + s.offset, m.params.begin() + s.offset + s.size, wpe.begin()));
  c.ctx = 64;
  GPT longer(c);
  expect_usage_error([&] { read_weights(src, longer.table(), longer.params); },
                     {"gpt2_hf", "ctx 64 is longer than the weights' 32"});
  c.ctx = 32, c.heads = 8;
  GPT other(c);
  expect_usage_error([&] { read_weights(src, other.table(), other.params); }, {"heads 8"});
}

// ---- bad files: one line naming the file and the tensor ------------------------------

// The fixture's tensors with `edit` applied, written to dir/model.safetensors beside
// the fixture's config.json.
struct Variant {
  std::map<std::string, std::vector<float>> f32;
  std::map<std::string, std::vector<int64_t>> shape;
  std::map<std::string, std::string> meta{{"format", "pt"}};
  explicit Variant(const std::filesystem::path& file) {
    const st::Reader r(file);
    for (const auto& t : r.tensors()) f32[t.name] = r.read_f32(t.name), shape[t.name] = t.shape;
  }
  std::filesystem::path write(const TempDir& d, bool config = true) const {
    std::vector<st::TensorOut> ts;
    for (const auto& [n, v] : f32) ts.push_back(st::f32_tensor(n, shape.at(n), v));
    st::write_file(d / "model.safetensors", ts, meta);
    if (config) std::filesystem::copy_file(kDir / "config.json", d / "config.json",
                                           std::filesystem::copy_options::overwrite_existing);
    return d / "model.safetensors";
  }
};

TEST(ImportErrors, MissingExtraAndMisshapenTensorsAreNamed) {
  TempDir d;
  Variant v(kDir / "model.safetensors");
  v.f32.erase("h.1.ln_2.bias");
  expect_usage_error([&] { WeightSource::open(v.write(d)); },
                     {"model.safetensors", "tensor 'h.1.ln_2.bias' is missing"});
  v = Variant(kDir / "model.safetensors");
  v.f32["h.2.ln_1.weight"] = std::vector<float>(32), v.shape["h.2.ln_1.weight"] = {32};
  expect_usage_error([&] { WeightSource::open(v.write(d)); },
                     {"model.safetensors", "extra tensor 'h.2.ln_1.weight'"});
  v = Variant(kDir / "model.safetensors");
  v.shape["h.0.mlp.c_proj.weight"] = {32, 128};  // nanoGPT's orientation in an HF file
  expect_usage_error([&] { WeightSource::open(v.write(d)); },
                     {"'h.0.mlp.c_proj.weight' has shape [32, 128], expected [128, 32]"});
  v = Variant(kDir / "model.safetensors");
  v.f32["h.0.attn.bias"] = std::vector<float>(32 * 32), v.shape["h.0.attn.bias"] = {1, 1, 32, 32};
  EXPECT_NO_THROW(WeightSource::open(v.write(d)));  // HF's causal-mask buffer: ignored
}

TEST(ImportErrors, UntiedHeadWrongArchitectureAndUnknownHeads) {
  TempDir d;
  Variant v(kDir / "nanogpt.safetensors");
  v.f32["lm_head.weight"][5 * 32 + 3] += 1.0f;
  expect_usage_error([&] { WeightSource::open(v.write(d)); },
                     {"model.safetensors", "'lm_head.weight' differs from wte at row 5"});
  v = Variant(kDir / "model.safetensors");
  v.write(d);
  auto cfg = nlohmann::json::parse(fault_testing::read_bytes(kDir / "config.json"));
  cfg["activation_function"] = "relu";
  fault_testing::write_bytes(d / "config.json", cfg.dump());
  expect_usage_error([&] { WeightSource::open(d.path()); },
                     {"config.json", "activation_function \"relu\"", "not the GPT-2 architecture"});
  cfg["activation_function"] = "gelu_new";
  cfg["n_layer"] = 3;
  fault_testing::write_bytes(d / "config.json", cfg.dump());
  expect_usage_error([&] { WeightSource::open(d.path()); },
                     {"model.safetensors", "tensor 'h.2.ln_1.weight' is missing (a 3-layer model"});
  std::filesystem::remove(d / "config.json");
  expect_usage_error([&] { WeightSource::open(d.path()); },
                     {"model.safetensors", "number of attention heads is unknown"});
}

TEST(ImportErrors, UnsupportedDtypeAndTruncatedFile) {
  TempDir d;
  Variant v(kDir / "model.safetensors");
  std::vector<st::TensorOut> ts;
  for (const auto& [n, f] : v.f32) ts.push_back(st::f32_tensor(n, v.shape.at(n), f));
  const std::vector<int32_t> ints(32);
  for (auto& t : ts)
    if (t.name == "ln_f.bias") t.dtype = st::DType::I32, t.bytes = std::as_bytes(std::span(ints));
  st::write_file(d / "model.safetensors", ts, {});
  std::filesystem::copy_file(kDir / "config.json", d / "config.json");
  expect_usage_error([&] { WeightSource::open(d.path()); },
                     {"model.safetensors", "tensor 'ln_f.bias' is I32", "F32, F16 or BF16"});
  const std::string whole = fault_testing::read_bytes(kDir / "model.safetensors");
  fault_testing::write_bytes(d / "model.safetensors", whole.substr(0, whole.size() - 100));
  expect_usage_error([&] { WeightSource::open(d.path()); }, {"model.safetensors", "truncated file?"});
}

// A vocabulary that is not a multiple of 64 (the model's wte is padded: model/config.h):
// the file's 300 rows import, the padding rows are zero, the export has 300 rows again.
TEST(Import, UnpaddedVocabularyImportsAndExportsWithoutPadding) {
  TempDir d;
  Variant v(kDir / "model.safetensors");
  std::vector<float>& wte = v.f32["wte.weight"];
  wte.resize(300 * 32);
  for (size_t i = 256 * 32; i < wte.size(); ++i) wte[i] = 0.001f * static_cast<float>(i % 97);
  v.shape["wte.weight"] = {300, 32};
  v.meta = {{"format", "pt"}, {"vocab", "300"}, {"ctx", "32"}, {"layers", "2"}, {"dim", "32"}, {"heads", "4"}};
  const WeightSource src = WeightSource::open(v.write(d, /*config=*/false));
  EXPECT_EQ(src.config().vocab, 300);
  GPT m(src.config());
  read_weights(src, m.table(), m.params);
  const ParamSpec& s = m.table().wte();
  ASSERT_GE(s.shape[0], 300);
  for (int64_t r = 0; r < s.shape[0]; ++r)
    for (int c = 0; c < 32; ++c)
      ASSERT_EQ(m.params[s.offset + static_cast<size_t>(r * 32 + c)],
                r < 300 ? wte[static_cast<size_t>(r * 32 + c)] : 0.0f) << r;
  export_weights(src, to(ExportFormat::hf, st::DType::F32, d / "e.safetensors"));
  const st::Reader e(d / "e.safetensors");
  EXPECT_EQ(e.find("wte.weight")->shape, (std::vector<int64_t>{300, 32}));
  EXPECT_EQ(e.read_f32("wte.weight"), wte);
}

// ---- export ------------------------------------------------------------------------

TEST(Export, HfExportOfTheImportIsTheOriginalTensorForTensor) {
  TempDir d;
  const ExportResult r = export_weights(WeightSource::open(kDir), to(ExportFormat::hf, st::DType::F32, d / "out"));
  EXPECT_EQ(r.files.size(), 3u);  // model.safetensors, config.json, plait_tokenizer.json
  const st::Reader a(kDir / "model.safetensors"), b(d / "out/model.safetensors");
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  for (const auto& t : a.tensors()) {
    const st::TensorInfo* u = b.find(t.name);
    ASSERT_TRUE(u) << t.name;
    EXPECT_EQ(u->dtype, t.dtype);
    EXPECT_EQ(u->shape, t.shape) << t.name;
    EXPECT_EQ(b.read_f32(t.name), a.read_f32(t.name)) << t.name;
  }
  EXPECT_EQ(b.metadata().at("format"), "pt");
  const auto cfg = nlohmann::json::parse(fault_testing::read_bytes(d / "out/config.json"));
  EXPECT_EQ(cfg.at("n_head"), 4);
  EXPECT_EQ(cfg.at("vocab_size"), 256);
  EXPECT_EQ(cfg.at("activation_function"), "gelu_new");
}

TEST(Export, Bf16AndF16ExportsRoundLikeTorch) {
  TempDir d;
  for (auto [dt, ref] : {std::pair{st::DType::BF16, "model-bf16.safetensors"},
                         std::pair{st::DType::F16, "model-f16.safetensors"}}) {
    export_weights(WeightSource::open(kDir), to(ExportFormat::hf, dt, d / "w.safetensors"));
    const st::Reader a(kDir / ref), b(d / "w.safetensors");
    for (const auto& t : a.tensors()) {
      const st::TensorInfo& u = b.expect(t.name, dt, &t.shape);
      std::string x(t.end - t.begin, '\0'), y(x.size(), '\0');
      a.read_bytes(t, std::as_writable_bytes(std::span(x)));
      b.read_bytes(u, std::as_writable_bytes(std::span(y)));
      EXPECT_EQ(x, y) << ref << " " << t.name;  // the same bits as torch's rounding
    }
    EXPECT_EQ(import(d / "w.safetensors").params, import(kDir / ref).params);  // lone file: config in metadata
  }
}

TEST(Export, NanoGptExportReimportsAndListsTheTiedHead) {
  TempDir d;
  export_weights(WeightSource::open(kDir), to(ExportFormat::nanogpt, st::DType::F32, d / "n"));
  const st::Reader r(d / "n/model.safetensors");
  EXPECT_EQ(r.read_f32("lm_head.weight"), r.read_f32("transformer.wte.weight"));
  EXPECT_EQ(r.find("transformer.h.0.attn.c_attn.weight")->shape, (std::vector<int64_t>{96, 32}));
  EXPECT_EQ(import(d / "n").params, import(kDir).params);
  const auto cfg = nlohmann::json::parse(fault_testing::read_bytes(d / "n/config.json"));
  EXPECT_EQ(cfg.at("block_size"), 32);
}

}  // namespace
}  // namespace plait
