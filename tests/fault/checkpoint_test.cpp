#include "fault/checkpoint.h"

#include <gtest/gtest.h>

#include <barrier>
#include <cstring>
#include <numeric>
#include <thread>

#include "fault/hash.h"
#include "fault_helpers.h"

namespace plait {
namespace {

namespace stdfs = std::filesystem;
using fault_testing::expect_usage_error;
using fault_testing::read_bytes;
using fault_testing::TempDir;
using fault_testing::write_bytes;
using nlohmann::json;

// A fake two-tensor "model": w [4,6] and b [6], values that tell their positions apart.
struct State {
  std::vector<float> w, b, mw, mb, vw, vb;
  explicit State(float base) : w(24), b(6), mw(24), mb(6), vw(24), vb(6) {
    for (size_t i = 0; i < 24; ++i) w[i] = base + i, mw[i] = -w[i], vw[i] = w[i] * 1e-7f;
    for (size_t i = 0; i < 6; ++i) b[i] = base * 2 + i / 3.0f, mb[i] = -b[i], vb[i] = b[i] * 1e-7f;
  }
  CheckpointData data(int64_t step) const {
    CheckpointData d;
    d.step = step;
    d.config = {{"layers", 1}, {"dim", 6}, {"heads", 2}, {"ctx", 4}, {"vocab", 4}};
    d.options = {{"lr", 0.001}, {"seed", 7}};
    d.rng = {{"state", 12345678901234ULL}};
    d.extra = {{"note", "test"}};
    d.model = {{"w", {4, 6}, w, {}, {}}, {"b", {6}, b, {}, {}}};
    d.opt_m = {{"w", {4, 6}, mw, {}, {}}, {"b", {6}, mb, {}, {}}};
    d.opt_v = {{"w", {4, 6}, vw, {}, {}}, {"b", {6}, vb, {}, {}}};
    return d;
  }
};

std::vector<float> read_all(const LoadedCheckpoint& c, const std::string& name) {
  std::vector<float> out(static_cast<size_t>(safetensors::numel(c.shape(name))));
  c.read(name, c.shape(name), out);
  return out;
}

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

TEST(Checkpoint, RoundTripIsBitExact) {
  TempDir run;
  State s(0.1f);
  auto path = save_checkpoint(run.path(), s.data(10), 3);
  EXPECT_EQ(path, run / "step-00000010");
  for (auto f : {"manifest.json", "model.safetensors", "optimizer.safetensors"})
    EXPECT_TRUE(stdfs::exists(path / f)) << f;

  LoadedCheckpoint c = load_checkpoint(run.path());
  EXPECT_EQ(c.dir(), path);
  EXPECT_EQ(c.step(), 10);
  EXPECT_EQ(c.config()["dim"], 6);
  EXPECT_EQ(c.options()["seed"], 7);
  EXPECT_EQ(c.rng()["state"], 12345678901234ULL);
  EXPECT_EQ(c.extra()["note"], "test");
  EXPECT_TRUE(bit_equal(read_all(c, "w"), s.w));
  EXPECT_TRUE(bit_equal(read_all(c, "b"), s.b));
  EXPECT_TRUE(bit_equal(read_all(c, "m.w"), s.mw));
  EXPECT_TRUE(bit_equal(read_all(c, "v.b"), s.vb));
  EXPECT_EQ(c.tensors().size(), 6u);
}

TEST(Checkpoint, ManifestRecordsChecksumsThatMatchTheFiles) {
  TempDir run;
  auto path = save_checkpoint(run.path(), State(1).data(3), 0);
  json m = json::parse(read_bytes(path / "manifest.json"));
  EXPECT_EQ(m["format"], "plait-checkpoint");
  EXPECT_EQ(m["version"], 1);
  EXPECT_EQ(m["checksum"], "xxh64");
  ASSERT_EQ(m["files"].size(), 2u);
  for (const auto& f : m["files"]) {
    stdfs::path p = path / f["file"].get<std::string>();
    EXPECT_EQ(f["xxh64"], hex64(xxh64_file(p)));
    EXPECT_EQ(f["bytes"], stdfs::file_size(p));
  }
  // the model file carries the config as string metadata, for other tools
  safetensors::Reader r(path / "model.safetensors");
  EXPECT_EQ(r.metadata().at("dim"), "6");
  EXPECT_EQ(r.metadata().at("format"), "pt");
}

TEST(Checkpoint, LatestPointerAndKeepLast) {
  TempDir run;
  State s(2);
  for (int step : {1, 2, 3, 4}) save_checkpoint(run.path(), s.data(step), 2);
  EXPECT_EQ(read_bytes(run / "latest"), "step-00000004\n");
  EXPECT_FALSE(stdfs::exists(run / "step-00000001"));
  EXPECT_FALSE(stdfs::exists(run / "step-00000002"));
  EXPECT_TRUE(stdfs::exists(run / "step-00000003"));
  EXPECT_EQ(latest_checkpoint(run.path()), run / "step-00000004");
  EXPECT_EQ(latest_checkpoint(run / "step-00000003"), run / "step-00000003");
  EXPECT_FALSE(stdfs::exists(run / "latest.tmp"));
}

TEST(Checkpoint, LatestFallsBackToHighestCommittedStep) {
  TempDir run;
  State s(2);
  save_checkpoint(run.path(), s.data(5), 0);
  save_checkpoint(run.path(), s.data(9), 0);
  stdfs::remove(run / "latest");
  EXPECT_EQ(latest_checkpoint(run.path()), run / "step-00000009");
  write_bytes(run / "latest", "step-00000077\n");  // stale: names nothing
  EXPECT_EQ(latest_checkpoint(run.path()), run / "step-00000009");
}

TEST(Checkpoint, SavingAStepAgainReplacesIt) {
  TempDir run;
  save_checkpoint(run.path(), State(1).data(4), 0);
  State s2(5);
  save_checkpoint(run.path(), s2.data(4), 0);
  auto c = load_checkpoint(run.path());
  EXPECT_TRUE(bit_equal(read_all(c, "w"), s2.w));
  for (const auto& e : stdfs::directory_iterator(run.path())) {  // no trash, no temp dir
    if (e.path().filename() == ".latest.spare") continue;  // `latest`'s next inode (kept)
    EXPECT_NE(e.path().filename().string().front(), '.') << e.path();
  }
}

// A crash in the middle of a save leaves only a .tmp-* directory: readers skip it,
// the next save removes it.
TEST(Checkpoint, UncommittedTempDirIsIgnoredAndCleaned) {
  TempDir run;
  State s(1);
  save_checkpoint(run.path(), s.data(1), 0);
  stdfs::create_directory(run / ".tmp-step-00000002");
  write_bytes(run / ".tmp-step-00000002" / "model.safetensors", "partial");
  stdfs::create_directory(run / "step-00000003");  // a step dir without manifest: not committed
  stdfs::remove(run / "latest");
  EXPECT_EQ(latest_checkpoint(run.path()), run / "step-00000001");
  EXPECT_EQ(load_checkpoint(run.path()).step(), 1);
  save_checkpoint(run.path(), s.data(2), 0);
  EXPECT_FALSE(stdfs::exists(run / ".tmp-step-00000002"));
  EXPECT_EQ(load_checkpoint(run.path()).step(), 2);
}

TEST(Checkpoint, RunDirThatIsAFileIsAUsageError) {
  TempDir run;
  write_bytes(run / "f", "x");
  expect_usage_error([&] { save_checkpoint(run / "f", State(1).data(1), 0); }, {"not a directory"});
}

TEST(Checkpoint, NoOptimizerStateIsFine) {
  TempDir run;
  State s(1);
  auto d = s.data(1);
  d.opt_m.clear(), d.opt_v.clear();
  auto c = load_checkpoint(save_checkpoint(run.path(), d, 0));
  EXPECT_FALSE(c.contains("m.w"));
  EXPECT_EQ(c.files().size(), 1u);
}

// ---- damaged checkpoints: one-line UsageErrors naming file and problem ------------

class Damaged : public ::testing::Test {
 protected:
  void SetUp() override { path = save_checkpoint(run.path(), State(3).data(7), 0); }
  TempDir run;
  stdfs::path path;
};

TEST_F(Damaged, MissingDirectory) {
  expect_usage_error([&] { load_checkpoint(run / "nope"); }, {"nope", "no such"});
}

TEST_F(Damaged, EmptyRunDirectory) {
  TempDir empty;
  expect_usage_error([&] { load_checkpoint(empty.path()); }, {"no checkpoint", "no manifest.json"});
}

TEST_F(Damaged, MissingManifest) {
  stdfs::remove(path / "manifest.json");
  expect_usage_error([&] { load_checkpoint(path); }, {"step-00000007", "no manifest.json"});
}

TEST_F(Damaged, GarbageManifest) {
  write_bytes(path / "manifest.json", "{\"step\": 7, oops");
  expect_usage_error([&] { load_checkpoint(path); }, {"manifest.json", "not JSON"});
}

TEST_F(Damaged, ManifestMissingField) {
  json m = json::parse(read_bytes(path / "manifest.json"));
  m.erase("step");
  write_bytes(path / "manifest.json", m.dump());
  expect_usage_error([&] { load_checkpoint(path); }, {"manifest.json", "'step'"});
}

TEST_F(Damaged, FutureVersion) {
  json m = json::parse(read_bytes(path / "manifest.json"));
  m["version"] = 99;
  write_bytes(path / "manifest.json", m.dump());
  expect_usage_error([&] { load_checkpoint(path); }, {"manifest.json", "version 99", "not supported"});
}

TEST_F(Damaged, MissingFile) {
  stdfs::remove(path / "optimizer.safetensors");
  expect_usage_error([&] { load_checkpoint(path); }, {"optimizer.safetensors", "missing"});
}

TEST_F(Damaged, TruncatedFile) {
  std::string b = read_bytes(path / "model.safetensors");
  write_bytes(path / "model.safetensors", b.substr(0, b.size() - 10));
  expect_usage_error([&] { load_checkpoint(path); }, {"model.safetensors", "truncated"});
}

TEST_F(Damaged, ChecksumMismatch) {
  std::string b = read_bytes(path / "model.safetensors");
  b[b.size() - 3] ^= 0x10;  // one flipped bit inside the data
  write_bytes(path / "model.safetensors", b);
  expect_usage_error([&] { load_checkpoint(path); }, {"model.safetensors", "checksum mismatch"});
}

TEST_F(Damaged, HeaderLongerThanFileInsideCheckpoint) {
  std::string b = read_bytes(path / "model.safetensors");
  uint64_t n = b.size() + 100;
  std::memcpy(b.data(), &n, 8);
  write_bytes(path / "model.safetensors", b);
  expect_usage_error([&] { load_checkpoint(path); }, {"model.safetensors", "larger than the file"});
}

TEST_F(Damaged, WrongShapedTensorForCaller) {
  auto c = load_checkpoint(path);
  std::vector<float> out(24);
  expect_usage_error([&] { c.read("w", {6, 4}, out); },
                     {"step-00000007", "tensor 'w'", "[4, 6]", "expected [6, 4]"});
  expect_usage_error([&] { c.read("transformer.wte.weight", {6, 4}, out); },
                     {"'transformer.wte.weight'", "missing"});
}

TEST_F(Damaged, ConfigDisagreesWithModelFile) {
  json m = json::parse(read_bytes(path / "manifest.json"));
  m["config"]["dim"] = 8;
  write_bytes(path / "manifest.json", m.dump());
  expect_usage_error([&] { load_checkpoint(path); }, {"model.safetensors", "'dim'", "8"});
}

// ---- sharded checkpoints: any layout writes, any layout reads ---------------------

// A full tensor [R, C] with element (i, j) = 1000 i + j, and its box [r0,r1)x[c0,c1).
std::vector<float> box_of(int64_t /*C*/, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  std::vector<float> v;
  for (int64_t i = r0; i < r1; ++i)
    for (int64_t j = c0; j < c1; ++j) v.push_back(static_cast<float>(1000 * i + j));
  return v;
}

// Runs `world` ranks as threads; rank r saves what make(r, storage) returns.
template <class Make>
void save_sharded(const stdfs::path& run, int world, int64_t step, Make make) {
  std::barrier sync(world);
  std::vector<std::thread> ranks;
  for (int r = 0; r < world; ++r)
    ranks.emplace_back([&, r] {
      std::vector<std::vector<float>> storage;
      CheckpointData d = make(r, storage);
      d.step = step;
      d.config = {{"layers", 1}};
      d.rng = {{"rank", r}};
      save_checkpoint(run, d, 0, {r, world, [&] { sync.arrive_and_wait(); }});
    });
  for (auto& t : ranks) t.join();
}

// 4 ranks: "w" [8, 6] split 2x2 (rows by r/2, columns by r%2) as a tp2·pp2-like grid,
// "b" [6] replicated on every rank (replicas are kept once), "m.w" moments likewise split.
CheckpointData grid_shard(int r, std::vector<std::vector<float>>& st) {
  int64_t r0 = (r / 2) * 4, c0 = (r % 2) * 3;
  st.push_back(box_of(6, r0, r0 + 4, c0, c0 + 3));
  st.push_back(box_of(6, 0, 1, 0, 6));
  st.push_back(box_of(6, r0 + 8, r0 + 12, c0, c0 + 3));  // moment: rows shifted by 8
  CheckpointData d;
  d.model.push_back({"w", {4, 3}, st[0], {8, 6}, {r0, c0}});
  d.model.push_back({"b", {6}, st[1], {}, {}});
  d.opt_m.push_back({"w", {4, 3}, st[2], {8, 6}, {r0, c0}});
  return d;
}

TEST(ShardedCheckpoint, FourRanksWriteOneWorkerReads) {
  TempDir run;
  save_sharded(run.path(), 4, 12, grid_shard);
  auto path = run / "step-00000012";
  EXPECT_TRUE(stdfs::exists(path / "model-rank00003.safetensors"));
  EXPECT_TRUE(stdfs::exists(path / "optimizer-rank00000.safetensors"));
  EXPECT_FALSE(stdfs::exists(path / "rank00000.part.json"));

  auto c = load_checkpoint(run.path());
  EXPECT_EQ(c.world(), 4);
  EXPECT_EQ(c.files().size(), 8u);
  EXPECT_EQ(c.rng(3)["rank"], 3);
  EXPECT_EQ(c.shape("w"), (std::vector<int64_t>{8, 6}));
  EXPECT_EQ(c.tensors().at("w").shards.size(), 4u);
  EXPECT_EQ(c.tensors().at("b").shards.size(), 1u);  // 4 replicas, kept once
  EXPECT_TRUE(bit_equal(read_all(c, "w"), box_of(6, 0, 8, 0, 6)));
  EXPECT_TRUE(bit_equal(read_all(c, "m.w"), box_of(6, 8, 16, 0, 6)));
  EXPECT_TRUE(bit_equal(read_all(c, "b"), box_of(6, 0, 1, 0, 6)));
}

TEST(ShardedCheckpoint, AnySliceAssemblesAcrossShards) {
  TempDir run;
  save_sharded(run.path(), 4, 1, grid_shard);
  auto c = load_checkpoint(run.path());
  // every box of w, including ones that straddle all four shards
  for (int64_t r0 = 0; r0 < 8; ++r0)
    for (int64_t r1 = r0 + 1; r1 <= 8; r1 += 2)
      for (int64_t c0 = 0; c0 < 6; ++c0)
        for (int64_t c1 = c0 + 1; c1 <= 6; ++c1) {
          std::vector<float> out(static_cast<size_t>((r1 - r0) * (c1 - c0)));
          c.read_slice("w", {r0, c0}, {r1, c1}, out);
          ASSERT_TRUE(bit_equal(out, box_of(6, r0, r1, c0, c1)))
              << r0 << ":" << r1 << "," << c0 << ":" << c1;
        }
  std::vector<float> out(2);
  expect_usage_error([&] { c.read_slice("w", {7, 0}, {9, 1}, out); }, {"outside tensor 'w'"});
}

// One worker writes whole tensors; four workers each read their tp/pp box back.
TEST(ShardedCheckpoint, OneWorkerWritesFourRanksRead) {
  TempDir run;
  std::vector<float> w = box_of(6, 0, 8, 0, 6);
  CheckpointData d;
  d.step = 2;
  d.config = {{"layers", 1}};
  d.model.push_back({"w", {8, 6}, w, {}, {}});
  save_checkpoint(run.path(), d, 0);
  auto c = load_checkpoint(run.path());
  for (int r = 0; r < 4; ++r) {
    int64_t r0 = (r / 2) * 4, c0 = (r % 2) * 3;
    std::vector<float> out(12);
    c.read_slice("w", {r0, c0}, {r0 + 4, c0 + 3}, out);
    EXPECT_TRUE(bit_equal(out, box_of(6, r0, r0 + 4, c0, c0 + 3))) << r;
  }
}

// pp2 (rows split 2 ways) written, then re-split 4 ways along columns and rows.
// 2 ranks: "w" [8, 6] split by rows.
CheckpointData grid_shard_two(int r, std::vector<std::vector<float>>& st) {
  st.push_back(box_of(6, r * 4, r * 4 + 4, 0, 6));
  CheckpointData d;
  d.model.push_back({"w", {4, 6}, st[0], {8, 6}, {r * 4, 0}});
  return d;
}

TEST(ShardedCheckpoint, ReshardTwoToFour) {
  TempDir run;
  save_sharded(run.path(), 2, 3, [](int r, std::vector<std::vector<float>>& st) {
    st.push_back(box_of(6, r * 4, r * 4 + 4, 0, 6));
    CheckpointData d;
    d.model.push_back({"w", {4, 6}, st[0], {8, 6}, {r * 4, 0}});
    return d;
  });
  auto c = load_checkpoint(run.path());
  for (int64_t k = 0; k < 4; ++k) {  // 2x3 boxes by column pairs... rows [2k, 2k+2)
    std::vector<float> out(12);
    c.read_slice("w", {2 * k, 0}, {2 * k + 2, 6}, out);
    EXPECT_TRUE(bit_equal(out, box_of(6, 2 * k, 2 * k + 2, 0, 6)));
  }
}

TEST(ShardedCheckpoint, MissingShardIsIncomplete) {
  TempDir run;
  save_sharded(run.path(), 4, 5, grid_shard);
  auto path = run / "step-00000005";
  json m = json::parse(read_bytes(path / "manifest.json"));
  json files = json::array();
  for (const auto& f : m["files"])
    if (f["file"] != "model-rank00002.safetensors") files.push_back(f);
  m["files"] = files;
  write_bytes(path / "manifest.json", m.dump());
  expect_usage_error([&] { load_checkpoint(path); }, {"tensor 'w'", "incomplete", "36 of 48"});
}

TEST(ShardedCheckpoint, OverlappingShardsAreRejected) {
  TempDir run;
  save_sharded(run.path(), 2, 5, [](int r, std::vector<std::vector<float>>& st) {
    st.push_back(box_of(6, r * 3, r * 3 + 5, 0, 6));  // rows [0,5) and [3,8): overlap
    CheckpointData d;
    d.model.push_back({"w", {5, 6}, st[0], {8, 6}, {r * 3, 0}});
    return d;
  });
  expect_usage_error([&] { load_checkpoint(run.path()); }, {"tensor 'w'", "overlaps"});
}


// ---- several boxes of one tensor in one file (tensor-parallel q/k/v rows) ----------

// 2 ranks share "w" [6, 4] by interleaved rows: rank r owns rows r, r+2, r+4 as three
// one-row boxes (like a tp rank's q, k and v rows of c_attn.weight), "b" [6] likewise
// (like c_attn.bias), and the moments of w (m: rows shifted by 8, v: by 16).
CheckpointData interleaved_shard(int r, std::vector<std::vector<float>>& st) {
  CheckpointData d;
  for (int64_t k = 0; k < 3; ++k) {
    const int64_t row = r + 2 * k;
    st.push_back(box_of(4, row, row + 1, 0, 4));
    d.model.push_back({"w", {1, 4}, st.back(), {6, 4}, {row, 0}});
    st.push_back(std::vector<float>{static_cast<float>(row)});
    d.model.push_back({"b", {1}, st.back(), {6}, {row}});
    st.push_back(box_of(4, row + 8, row + 9, 0, 4));
    d.opt_m.push_back({"w", {1, 4}, st.back(), {6, 4}, {row, 0}});
    st.push_back(box_of(4, row + 16, row + 17, 0, 4));
    d.opt_v.push_back({"w", {1, 4}, st.back(), {6, 4}, {row, 0}});
  }
  return d;
}

TEST(ShardedCheckpoint, SeveralBoxesOfATensorInOneFile) {
  TempDir run;
  save_sharded(run.path(), 2, 4, interleaved_shard);
  const auto path = run / "step-00000004";
  // The keys and slice entries as stored.
  safetensors::Reader model(path / "model-rank00001.safetensors");
  for (const char* key : {"w", "w@1", "w@2", "b", "b@1", "b@2"})
    EXPECT_NE(model.find(key), nullptr) << key;
  json w2 = json::parse(model.metadata().at("slice.w@2"));
  EXPECT_EQ(w2["of"], "w");
  EXPECT_EQ(w2["begin"], json({5, 0}));
  EXPECT_EQ(json::parse(model.metadata().at("slice.w"))["of"], "w");
  safetensors::Reader opt(path / "optimizer-rank00000.safetensors");
  EXPECT_NE(opt.find("m.w@2"), nullptr);
  EXPECT_NE(opt.find("v.w@1"), nullptr);
  EXPECT_EQ(json::parse(opt.metadata().at("slice.m.w@1"))["of"], "m.w");

  auto c = load_checkpoint(run.path());
  EXPECT_EQ(c.names(), (std::vector<std::string>{"w", "b", "m.w", "v.w"}));
  EXPECT_EQ(c.tensors().at("w").shards.size(), 6u);
  EXPECT_EQ(c.tensors().at("v.w").shards.size(), 6u);
  EXPECT_EQ(c.shape("w"), (std::vector<int64_t>{6, 4}));
  EXPECT_TRUE(bit_equal(read_all(c, "w"), box_of(4, 0, 6, 0, 4)));
  EXPECT_TRUE(bit_equal(read_all(c, "m.w"), box_of(4, 8, 14, 0, 4)));
  EXPECT_TRUE(bit_equal(read_all(c, "v.w"), box_of(4, 16, 22, 0, 4)));
  EXPECT_TRUE(bit_equal(read_all(c, "b"), std::vector<float>{0, 1, 2, 3, 4, 5}));
  // every box of w: each row comes from the other rank than its neighbours'
  for (int64_t r0 = 0; r0 < 6; ++r0)
    for (int64_t r1 = r0 + 1; r1 <= 6; ++r1)
      for (int64_t c0 = 0; c0 < 4; ++c0)
        for (int64_t c1 = c0 + 1; c1 <= 4; ++c1) {
          std::vector<float> out(static_cast<size_t>((r1 - r0) * (c1 - c0)));
          c.read_slice("m.w", {r0, c0}, {r1, c1}, out);
          ASSERT_TRUE(bit_equal(out, box_of(4, r0 + 8, r1 + 8, c0, c1)))
              << r0 << ":" << r1 << "," << c0 << ":" << c1;
        }
  // a tp rank's q/k/v rows read back from the one-worker view: rows 1, 3, 5
  for (int64_t row : {1, 3, 5}) {
    std::vector<float> out(4);
    c.read_slice("w", {row, 0}, {row + 1, 4}, out);
    EXPECT_TRUE(bit_equal(out, box_of(4, row, row + 1, 0, 4))) << row;
  }
}

// Boxes of one tensor in one file overlap: the same checks as across files.
TEST(ShardedCheckpoint, OverlappingBoxesInOneFileAreRejected) {
  TempDir run;
  std::vector<float> a = box_of(4, 0, 2, 0, 4), b = box_of(4, 1, 3, 0, 4);
  CheckpointData d;
  d.step = 1;
  d.config = {{"layers", 1}};
  d.model = {{"w", {2, 4}, a, {3, 4}, {0, 0}}, {"w", {2, 4}, b, {3, 4}, {1, 0}}};
  save_checkpoint(run.path(), d, 0);
  expect_usage_error([&] { load_checkpoint(run.path()); },
                     {"model.safetensors", "tensor 'w' (stored as 'w@1')", "overlaps"});
}

TEST(ShardedCheckpoint, NamesWithTheBoxSeparatorAreRefused) {
  TempDir run;
  std::vector<float> a(4);
  CheckpointData d;
  d.model = {{"w@1", {4}, a, {}, {}}};
  EXPECT_THROW(save_checkpoint(run.path(), d, 0), std::invalid_argument);
}

// Rewrites the slice entry of `key` in `file` of checkpoint `dir` with edit(entry),
// keeping the file valid and the manifest's size and checksum in step with it.
template <class Edit>
void edit_slice_entry(const stdfs::path& dir, const std::string& file, const std::string& key,
                      Edit edit) {
  const std::string bytes = read_bytes(dir / file);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  json header = json::parse(bytes.substr(8, n));
  json entry = json::parse(header["__metadata__"]["slice." + key].get<std::string>());
  edit(entry);
  header["__metadata__"]["slice." + key] = entry.dump();
  std::string h = header.dump();
  while ((8 + h.size()) % 8) h += ' ';
  write_bytes(dir / file, fault_testing::raw_safetensors(h, bytes.substr(8 + n)));
  json m = json::parse(read_bytes(dir / "manifest.json"));
  for (json& f : m["files"])
    if (f["file"] == file) {
      f["bytes"] = stdfs::file_size(dir / file);
      f["xxh64"] = hex64(xxh64_file(dir / file));
    }
  write_bytes(dir / "manifest.json", m.dump());
}

TEST(ShardedCheckpoint, MalformedOfIsAOneLineUsageError) {
  const std::vector<std::pair<json, std::string>> bad = {
      {5, "5"}, {"", "\"\""}, {"b", "\"b\""}, {"w@1", "\"w@1\""}};
  for (const auto& [of, shown] : bad) {
    TempDir run;
    save_sharded(run.path(), 2, 4, interleaved_shard);
    const auto path = run / "step-00000004";
    edit_slice_entry(path, "model-rank00000.safetensors", "w@1", [&](json& e) { e["of"] = of; });
    expect_usage_error([&] { load_checkpoint(path); },
                       {"model-rank00000.safetensors", "tensor 'w@1'", "malformed \"of\"", shown});
  }
  // "of" on a plain key must be that key
  TempDir run;
  save_sharded(run.path(), 2, 4, interleaved_shard);
  const auto path = run / "step-00000004";
  edit_slice_entry(path, "optimizer-rank00001.safetensors", "v.w",
                   [](json& e) { e["of"] = "v"; });
  expect_usage_error([&] { load_checkpoint(path); },
                     {"optimizer-rank00001.safetensors", "tensor 'v.w'", "malformed \"of\""});
}

// A slice entry without "of" (an older writer) still names its tensor by its key.
TEST(ShardedCheckpoint, SliceEntryWithoutOfNamesItsKey) {
  TempDir run;
  save_sharded(run.path(), 2, 4, grid_shard_two);
  const auto path = run / "step-00000004";
  for (const char* f : {"model-rank00000.safetensors", "model-rank00001.safetensors"})
    edit_slice_entry(path, f, "w", [](json& e) { e.erase("of"); });
  auto c = load_checkpoint(path);
  EXPECT_TRUE(bit_equal(read_all(c, "w"), box_of(6, 0, 8, 0, 6)));
}

}  // namespace
}  // namespace plait
