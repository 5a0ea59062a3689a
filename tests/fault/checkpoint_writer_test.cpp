// The background checkpoint writer (fault/checkpoint_writer.h): the snapshot is taken
// at submit() (later changes to the arenas do not leak into the checkpoint), writes
// are committed in order with `latest` on the newest, a failed write is thrown as a
// CheckpointWriteError naming the checkpoint, and the destructor waits for the write.
#include "fault/checkpoint_writer.h"

#include <gtest/gtest.h>

#include <cstring>

#include "fault_helpers.h"

namespace plait {
namespace {

using fault_testing::read_bytes;
using fault_testing::TempDir;
using fault_testing::write_bytes;

struct Arena {
  std::vector<float> w = std::vector<float>(64), m = std::vector<float>(64),
                     v = std::vector<float>(64);
  void fill(float base) {
    for (size_t i = 0; i < w.size(); ++i) w[i] = base + i, m[i] = -base - i, v[i] = base * i;
  }
  CheckpointData data(int64_t step) const {
    CheckpointData d;
    d.step = step;
    d.config = {{"layers", 1}, {"dim", 8}, {"heads", 2}, {"ctx", 4}, {"vocab", 4}};
    d.model = {{"w", {8, 8}, w, {}, {}}};
    d.opt_m = {{"w", {8, 8}, m, {}, {}}};
    d.opt_v = {{"w", {8, 8}, v, {}, {}}};
    return d;
  }
};

std::vector<float> read_w(const std::filesystem::path& p, const std::string& name = "w") {
  const LoadedCheckpoint c = load_checkpoint(p);
  std::vector<float> out(64);
  c.read(name, {8, 8}, out);
  return out;
}

TEST(CheckpointWriter, SnapshotIsTakenAtSubmit) {
  TempDir run;
  Arena a;
  a.fill(1.0f);
  const std::vector<float> before = a.w;
  {
    CheckpointWriter writer(run.path(), 0);
    EXPECT_EQ(writer.submit(a.data(1)), run / "step-00000001");
    a.fill(99.0f);  // the training thread moves on while the write is in flight
    writer.wait();
  }
  EXPECT_EQ(read_w(run / "step-00000001"), before);
  EXPECT_NE(read_w(run / "step-00000001"), a.w);
}

TEST(CheckpointWriter, WritesEveryStepInOrderAndLatestIsTheNewest) {
  TempDir run;
  Arena a;
  CheckpointWriter writer(run.path(), 2);
  for (int s = 1; s <= 4; ++s) {
    a.fill(static_cast<float>(s));
    writer.submit(a.data(s));
  }
  writer.wait();
  EXPECT_EQ(writer.writes(), 4);
  EXPECT_EQ(read_bytes(run / "latest"), "step-00000004\n");
  EXPECT_EQ(latest_checkpoint(run.path()), run / "step-00000004");
  EXPECT_EQ(read_w(run.path()), a.w);
  EXPECT_TRUE(std::filesystem::exists(run / "step-00000003"));  // keep_last 2
  EXPECT_FALSE(std::filesystem::exists(run / "step-00000002"));
  EXPECT_FALSE(std::filesystem::exists(run / "step-00000001"));
}

TEST(CheckpointWriter, DestructorWaitsForTheWriteInFlight) {
  TempDir run;
  Arena a;
  a.fill(3.0f);
  { CheckpointWriter(run.path(), 0).submit(a.data(7)); }
  EXPECT_EQ(read_w(run.path()), a.w);
}

TEST(CheckpointWriter, FailedWriteIsATypedErrorNamingThePath) {
  TempDir run;
  write_bytes(run / "file", "not a directory");
  Arena a;
  CheckpointWriter writer(run / "file", 0);
  writer.submit(a.data(5));  // returns at once; the write fails in the background
  try {
    writer.wait();
    FAIL() << "no error";
  } catch (const CheckpointWriteError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find((run / "file" / "step-00000005").string()), std::string::npos) << what;
    EXPECT_NE(what.find("not a directory"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_EQ(e.path, run / "file" / "step-00000005");
  }
  writer.wait();  // thrown once
  writer.submit(a.data(6));
  EXPECT_THROW(writer.submit(a.data(7)), CheckpointWriteError);  // the next submit throws it
}

// Tensors of a few MB (the files take the direct writes, from the snapshot arena)
// whose sizes are not multiples of a block.
struct BigArena {
  std::vector<float> a = std::vector<float>(300001), b = std::vector<float>(70003);
  BigArena() {
    for (size_t i = 0; i < a.size(); ++i) a[i] = 0.5f * static_cast<float>(i % 977) - 1.0f;
    for (size_t i = 0; i < b.size(); ++i) b[i] = -0.25f * static_cast<float>(i % 331);
  }
  CheckpointData data(int64_t step) const {
    CheckpointData d = Arena().data(step);
    d.model = {{"a", {300001}, a, {}, {}}, {"b", {70003}, b, {}, {}}};
    d.opt_m = {{"a", {300001}, a, {}, {}}, {"b", {70003}, b, {}, {}}};
    d.opt_v = {{"a", {300001}, a, {}, {}}, {"b", {70003}, b, {}, {}}};
    return d;
  }
};

// The background writer's files are the inline save's, byte for byte (the format does
// not depend on how the bytes reached the disk).
TEST(CheckpointWriter, FilesAreByteIdenticalToTheInlineSave) {
  TempDir bg, in;
  BigArena a;
  {
    CheckpointWriter writer(bg.path(), 0);
    for (int s = 9; s <= 11; ++s) writer.submit(a.data(s));  // 9 -> 10: the headers grow
    writer.wait();
  }
  for (int s = 9; s <= 11; ++s) save_checkpoint(in.path(), a.data(s), 0);
  for (int s = 9; s <= 11; ++s) {
    const std::string step = "step-000000" + std::string(s < 10 ? "0" : "") + std::to_string(s);
    int files = 0;
    for (const auto& e : std::filesystem::directory_iterator(in / step)) {
      SCOPED_TRACE(e.path().string());
      const std::string mine = read_bytes(bg / step / e.path().filename().string());
      EXPECT_TRUE(mine == read_bytes(e.path())) << mine.size();
      ++files;
    }
    EXPECT_EQ(files, 3);  // model, optimizer, manifest
  }
}

// The offsets the snapshot is laid out by are where the written files' data starts.
TEST(CheckpointWriter, DataOffsetsAreWhereTheFilesDataStarts) {
  TempDir run;
  BigArena a;
  const CheckpointData d = a.data(12);
  const CheckpointDataOffsets off = checkpoint_data_offsets(d);
  const std::filesystem::path dir = save_checkpoint(run.path(), d, 0);
  auto data_start = [](const std::filesystem::path& p) {
    const std::string b = read_bytes(p);
    uint64_t n = 0;
    std::memcpy(&n, b.data(), 8);
    return 8 + n;
  };
  EXPECT_EQ(off.model, data_start(dir / "model.safetensors"));
  EXPECT_EQ(off.optimizer, data_start(dir / "optimizer.safetensors"));
  EXPECT_NE(off.model, off.optimizer);
  CheckpointData no_optimizer = d;
  no_optimizer.opt_m.clear(), no_optimizer.opt_v.clear();
  EXPECT_EQ(checkpoint_data_offsets(no_optimizer).optimizer, 0u);
}

}  // namespace
}  // namespace plait
