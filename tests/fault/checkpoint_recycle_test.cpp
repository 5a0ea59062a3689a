// Recycling a pruned checkpoint (fault/checkpoint.cpp: prune, make_temp_dir): the
// checkpoint pruned by keep_last becomes the run's spare (".spare-step-N", its manifest
// renamed away first), and the next save overwrites its files in place. What must
// hold: a spare is never read as a checkpoint, the recycled files hold exactly what a
// fresh save writes (cut to size, another layout's files removed), and a spare left in
// any state by a crash is either recycled or removed.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <barrier>
#include <cstring>
#include <thread>

#include "fault/checkpoint.h"
#include "fault/checkpoint_names.h"
#include "fault_helpers.h"

namespace plait {
namespace {

namespace stdfs = std::filesystem;
using fault_testing::read_bytes;
using fault_testing::TempDir;
using fault_testing::write_bytes;

// A model of `n` floats in one tensor, with moments, valued by `base`.
struct Model {
  std::vector<float> w, m, v;
  Model(size_t n, float base) : w(n), m(n), v(n) {
    for (size_t i = 0; i < n; ++i) w[i] = base + i, m[i] = -w[i], v[i] = w[i] * 1e-7f;
  }
  CheckpointData data(int64_t step) const {
    CheckpointData d;
    d.step = step;
    d.config = {{"layers", 1}};
    d.rng = {{"state", 99}};
    const int64_t n = static_cast<int64_t>(w.size());
    d.model = {{"w", {n}, w, {}, {}}};
    d.opt_m = {{"w", {n}, m, {}, {}}};
    d.opt_v = {{"w", {n}, v, {}, {}}};
    return d;
  }
};

std::vector<std::string> spares(const stdfs::path& run) {
  std::vector<std::string> out;
  for (const auto& e : stdfs::directory_iterator(run)) {
    const std::string n = e.path().filename().string();
    if (n.rfind(ckpt::kSparePrefix, 0) == 0) out.push_back(n);
  }
  return out;
}

ino_t inode(const stdfs::path& p) {
  struct stat st{};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_ino;
}

// Every file of checkpoint `a` equals `b`'s, and neither holds a file the other lacks
// (the manifests differ only if the run ids do: none is set here).
void expect_same_files(const stdfs::path& a, const stdfs::path& b) {
  std::vector<std::string> na, nb;
  for (const auto& e : stdfs::directory_iterator(a)) na.push_back(e.path().filename().string());
  for (const auto& e : stdfs::directory_iterator(b)) nb.push_back(e.path().filename().string());
  std::sort(na.begin(), na.end());
  std::sort(nb.begin(), nb.end());
  EXPECT_EQ(na, nb);
  for (const std::string& f : na)
    EXPECT_TRUE(read_bytes(a / f) == read_bytes(b / f)) << f << " differs";
}

TEST(CheckpointRecycle, PrunedCheckpointBecomesASpareThatNoReaderPicks) {
  TempDir run;
  Model s(1000, 1);
  for (int step : {1, 2, 3}) save_checkpoint(run.path(), s.data(step), 2);
  ASSERT_EQ(spares(run.path()), std::vector<std::string>{".spare-step-00000001"});
  const stdfs::path spare = run / ".spare-step-00000001";
  EXPECT_FALSE(stdfs::exists(spare / ckpt::kManifest));  // renamed away first
  EXPECT_TRUE(stdfs::exists(spare / ckpt::kSpareManifest));
  EXPECT_TRUE(stdfs::exists(spare / "model.safetensors"));
  EXPECT_FALSE(stdfs::exists(run / "step-00000001"));
  // without `latest`, the fallback scan ignores the spare too
  stdfs::remove(run / "latest");
  EXPECT_EQ(latest_checkpoint(run.path()), run / "step-00000003");
  EXPECT_EQ(load_checkpoint(run.path()).step(), 3);
}

TEST(CheckpointRecycle, NextSaveOverwritesTheSparesFilesInPlaceWithTheSameBytes) {
  TempDir run, fresh;
  Model a(1000, 1), b(1000, 5);
  save_checkpoint(run.path(), a.data(1), 1);
  save_checkpoint(run.path(), a.data(2), 1);  // step 1 -> the spare
  const stdfs::path spare = run / ".spare-step-00000001";
  const ino_t model_ino = inode(spare / "model.safetensors");
  const ino_t opt_ino = inode(spare / "optimizer.safetensors");
  const ino_t manifest_ino = inode(spare / ckpt::kSpareManifest);
  save_checkpoint(run.path(), b.data(3), 1);
  const stdfs::path got = run / "step-00000003";
  EXPECT_EQ(inode(got / "model.safetensors"), model_ino);  // recycled, not created
  EXPECT_EQ(inode(got / "optimizer.safetensors"), opt_ino);
  EXPECT_EQ(inode(got / ckpt::kManifest), manifest_ino);
  EXPECT_FALSE(stdfs::exists(got / ckpt::kSpareManifest));
  save_checkpoint(fresh.path(), b.data(3), 1);
  expect_same_files(got, fresh / "step-00000003");
  EXPECT_EQ(spares(run.path()), std::vector<std::string>{".spare-step-00000002"});
  EXPECT_EQ(load_checkpoint(run.path()).step(), 3);
}

// A spare of another size (the model grew or shrank, the step's digits changed the
// header) or holding another layout's files: cut to size, strays removed.
TEST(CheckpointRecycle, SpareOfAnotherSizeOrLayoutEndsAsAFreshSave) {
  for (size_t old_n : {100, 5000}) {
    SCOPED_TRACE("old size " + std::to_string(old_n));
    TempDir run, fresh;
    save_checkpoint(run.path(), Model(old_n, 1).data(1), 1);
    save_checkpoint(run.path(), Model(old_n, 2).data(2), 1);
    const stdfs::path spare = run / ".spare-step-00000001";
    write_bytes(spare / "model-rank00001.safetensors", "another layout's file");
    write_bytes(spare / "rank00001.part.json", "{}");
    stdfs::create_directories(spare / "tokenizer");
    Model now(1000, 3);
    save_checkpoint(run.path(), now.data(12345), 1);
    save_checkpoint(fresh.path(), now.data(12345), 1);
    expect_same_files(run / "step-00012345", fresh / "step-00012345");
    EXPECT_EQ(load_checkpoint(run.path()).step(), 12345);
  }
}

// A crash inside prune (after the rename, before the manifest's) leaves a spare that
// still holds manifest.json; a crash later leaves several. The next save recycles one,
// removes the others, and never commits the stale manifest.
TEST(CheckpointRecycle, SparesLeftByACrashAreRecycledOrRemoved) {
  TempDir run, fresh;
  Model a(1000, 1), b(1000, 7);
  save_checkpoint(run.path(), a.data(1), 0);
  save_checkpoint(run.path(), a.data(2), 0);
  stdfs::rename(run / "step-00000001", run / ".spare-step-00000001");  // manifest still in it
  stdfs::copy(run / "step-00000002", run / ".spare-step-00000002");
  EXPECT_EQ(latest_checkpoint(run.path()), run / "step-00000002");
  save_checkpoint(run.path(), b.data(3), 1);
  EXPECT_EQ(spares(run.path()), std::vector<std::string>{".spare-step-00000002"});
  EXPECT_FALSE(stdfs::exists(run / ".spare-step-00000002" / ckpt::kManifest));
  save_checkpoint(fresh.path(), b.data(3), 1);
  expect_same_files(run / "step-00000003", fresh / "step-00000003");
  auto c = load_checkpoint(run.path());
  EXPECT_EQ(c.step(), 3);
}

// `latest` is replaced by renaming a kept file over it; the replaced inode becomes the
// next spare, so after the first save no replacement creates a file.
TEST(CheckpointRecycle, LatestIsReplacedByItsSpareAndKeepsTwoInodes) {
  TempDir run;
  Model a(100, 1);
  save_checkpoint(run.path(), a.data(1), 0);
  save_checkpoint(run.path(), a.data(2), 0);
  const ino_t latest = inode(run / "latest"), spare = inode(run / ckpt::kLatestSpare);
  EXPECT_NE(latest, spare);
  save_checkpoint(run.path(), a.data(3), 0);
  EXPECT_EQ(read_bytes(run / "latest"), "step-00000003\n");
  EXPECT_EQ(inode(run / "latest"), spare);
  EXPECT_EQ(inode(run / ckpt::kLatestSpare), latest);
  EXPECT_FALSE(stdfs::exists(run / ".latest.spare.old"));
  // a leftover of a crash between the link and the rename, and a planted link
  write_bytes(run / ".latest.spare.old", "x");
  stdfs::remove(run / ckpt::kLatestSpare);
  stdfs::create_symlink(run / "victim", run / ckpt::kLatestSpare);
  save_checkpoint(run.path(), a.data(4), 0);
  EXPECT_EQ(read_bytes(run / "latest"), "step-00000004\n");
  EXPECT_FALSE(stdfs::exists(run / "victim"));
  EXPECT_EQ(latest_checkpoint(run.path()), run / "step-00000004");
}

// keep_last 0 keeps everything: no spare, nothing recycled.
TEST(CheckpointRecycle, KeepAllMakesNoSpare) {
  TempDir run;
  Model a(100, 1);
  for (int step : {1, 2, 3}) save_checkpoint(run.path(), a.data(step), 0);
  EXPECT_TRUE(spares(run.path()).empty());
  for (int step : {1, 2, 3}) EXPECT_TRUE(stdfs::exists(run / ckpt::step_dir_name(step)));
}

// Sharded saves recycle too: every rank overwrites its own files in the spare.
TEST(CheckpointRecycle, ShardedSavesRecycleEveryRanksFiles) {
  TempDir run, fresh;
  auto save = [](const stdfs::path& dir, int64_t step, float base) {
    std::barrier sync(2);
    std::vector<std::thread> ranks;
    for (int r = 0; r < 2; ++r)
      ranks.emplace_back([&, r] {
        std::vector<float> half(500);
        for (size_t i = 0; i < half.size(); ++i) half[i] = base + r * 500 + i;
        CheckpointData d;
        d.step = step;
        d.config = {{"layers", 1}};
        d.rng = {{"rank", r}};
        d.model = {{"w", {500}, half, {1000}, {r * 500}}};
        save_checkpoint(dir, d, 1, {r, 2, [&] { sync.arrive_and_wait(); }});
      });
    for (auto& t : ranks) t.join();
  };
  save(run.path(), 1, 0);
  save(run.path(), 2, 1);
  const ino_t ino = inode(run / ".spare-step-00000001" / "model-rank00001.safetensors");
  save(run.path(), 3, 2);
  EXPECT_EQ(inode(run / "step-00000003" / "model-rank00001.safetensors"), ino);
  save(fresh.path(), 3, 2);
  expect_same_files(run / "step-00000003", fresh / "step-00000003");
  EXPECT_FALSE(stdfs::exists(run / "step-00000003" / "rank00001.part.json"));  // in RUN/.parts
  EXPECT_EQ(load_checkpoint(run.path()).step(), 3);
}

}  // namespace
}  // namespace plait

namespace plait {
namespace {

// The role files' headers are kept across saves of one layout with only the step's
// digits replaced (fault/checkpoint.cpp: role_header): each file's header must be what
// safetensors builds, the canonical dump of its own JSON padded to 8, naming its step,
// across steps whose digits differ in number and after a layout change.
TEST(CheckpointRecycle, KeptHeadersAreTheCanonicalHeaderOfEachStep) {
  TempDir run;
  Model a(300, 1), b(500, 2);
  for (const auto& [model, step] : std::vector<std::pair<const Model*, int64_t>>{
           {&a, 9}, {&a, 10}, {&a, 12345}, {&b, 12346}, {&a, 7}}) {
    save_checkpoint(run.path(), model->data(step), 0);
    for (const char* f : {"model.safetensors", "optimizer.safetensors"}) {
      SCOPED_TRACE(std::string(f) + " step " + std::to_string(step));
      const std::string bytes = read_bytes(run / ckpt::step_dir_name(step) / f);
      uint64_t n = 0;
      std::memcpy(&n, bytes.data(), 8);
      const std::string header = bytes.substr(8, n);
      const nlohmann::json h = nlohmann::json::parse(header);
      std::string canonical = h.dump();
      canonical.append((8 - canonical.size() % 8) % 8, ' ');
      EXPECT_EQ(header, canonical);
      EXPECT_EQ(h.at("__metadata__").at("plait.step"), std::to_string(step));
      EXPECT_EQ(h.at(std::string(f) == "model.safetensors" ? "w" : "m.w").at("shape").at(0),
                model->w.size());
    }
    EXPECT_EQ(load_checkpoint(run / ckpt::step_dir_name(step)).step(), step);
  }
}

}  // namespace
}  // namespace plait
